using RaySharp;
using RaySharp.Integration.Driver;

// A driver program the integration tests start as a separate process. Usage:
//   RaySharp.Integration.Driver ADDRESS create-detached NAME   create a detached Keeper, increment it once, exit
//   RaySharp.Integration.Driver ADDRESS lend-and-exit NAME     give a detached Holder a ref this driver owns, exit
//   RaySharp.Integration.Driver ADDRESS shutdown-busy X        start 5 one-CPU sleepers, shut down while they run
//   RaySharp.Integration.Driver ADDRESS print MARKER           run a task that prints MARKER, exit
//   RaySharp.Integration.Driver ADDRESS where RESOURCE         run a task needing RESOURCE, print its code directory
//   RaySharp.Integration.Driver ADDRESS create-groups NAME     create a detached placement group NAME and a non-detached
//                                                              one NAME-job, wait until both are ready, exit
//   RaySharp.Integration.Driver ADDRESS hold NAME              create a named (non-detached) Keeper, start 5 one-CPU
//                                                              tasks that sleep, print "holding JOB", wait to be killed
if (args.Length != 3)
{
    Console.Error.WriteLine("usage: RaySharp.Integration.Driver ADDRESS create-detached|lend-and-exit|print|hold|shutdown-busy|create-groups ARG");
    return 2;
}
using (Ray.Init(new RayOptions { Address = args[0], Namespace = "integration" }))
{
    switch (args[1])
    {
        case "create-detached":
            var keeper = Keeper.Remote.WithOptions(new ActorOptions { Name = args[2], Lifetime = ActorLifetime.Detached }).Create();
            Console.WriteLine($"created {args[2]}: {await keeper.Increment()}");
            break;
        case "lend-and-exit":
            var holder = Holder.Remote.WithOptions(new ActorOptions { Name = args[2], Lifetime = ActorLifetime.Detached }).Create();
            var owned = Ray.Put(42);
            Console.WriteLine($"lent: {await holder.Keep(owned)}");
            break;
        case "hold":
            var held = Keeper.Remote.WithOptions(new ActorOptions { Name = args[2] }).Create();
            await held.Increment();
            var sleepers = Enumerable.Range(0, 5).Select(_ => Sleeper.Remote.Sleep(600)).ToList();
            var large = Ray.Put(new byte[4 * 1024 * 1024]); // in the head's object store, owned by this driver
            Console.WriteLine($"holding {Ray.GetRuntimeContext().JobId} {large.Id}");
            Console.Out.Flush();
            await Task.Delay(Timeout.Infinite);
            break;
        case "shutdown-busy":
            var busy = Enumerable.Range(0, 5).Select(_ => Sleeper.Remote.Sleep(600)).ToList();
            var until = DateTime.UtcNow.AddSeconds(60);
            while (Ray.AvailableResources().GetValueOrDefault("CPU") > 1 && DateTime.UtcNow < until) await Task.Delay(20);
            Console.WriteLine($"busy: {Ray.AvailableResources().GetValueOrDefault("CPU")} CPUs free");
            break; // Ray.Shutdown with the sleepers still running
        case "create-groups":
            var oneCpu = new Dictionary<string, double> { ["CPU"] = 1 };
            var detachedGroup = Ray.CreatePlacementGroup([oneCpu], name: args[2], lifetime: PlacementGroupLifetime.Detached);
            var jobGroup = Ray.CreatePlacementGroup([oneCpu], name: args[2] + "-job");
            await detachedGroup.ReadyAsync();
            await jobGroup.ReadyAsync();
            Console.WriteLine($"created {args[2]}");
            break;
        case "where":
            // A task that needs the resource ARG (only another node has it) reports where its worker loaded its code.
            var place = await Printer.Remote.WithOptions(new TaskOptions { Resources = new Dictionary<string, double> { [args[2]] = 1 } }).Where();
            Console.WriteLine($"task ran from {place}");
            break;
        case "print":
            Console.WriteLine($"printed by pid {await Printer.Remote.Print(args[2])}");
            break;
        default:
            Console.Error.WriteLine($"unknown command {args[1]}");
            return 2;
    }
}
return 0;
