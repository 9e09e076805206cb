using RaySharp;
using RaySharp.Integration.Driver;

// A driver program the integration tests start as a separate process. Usage:
//   RaySharp.Integration.Driver ADDRESS create-detached NAME   create a detached Keeper, increment it once, exit
//   RaySharp.Integration.Driver ADDRESS lend-and-exit NAME     give a detached Holder a ref this driver owns, exit
//   RaySharp.Integration.Driver ADDRESS print MARKER           run a task that prints MARKER, exit
if (args.Length != 3)
{
    Console.Error.WriteLine("usage: RaySharp.Integration.Driver ADDRESS create-detached|lend-and-exit|print ARG");
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
        case "print":
            Console.WriteLine($"printed by pid {await Printer.Remote.Print(args[2])}");
            break;
        default:
            Console.Error.WriteLine($"unknown command {args[1]}");
            return 2;
    }
}
return 0;
