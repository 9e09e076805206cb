using RaySharp;
using RaySharp.Integration.Driver;

// Usage: RaySharp.Integration.Driver <cluster address> create-detached <name>
//   joins the cluster, creates a detached Keeper actor with that name, increments it once, and exits.
if (args.Length != 3 || args[1] != "create-detached")
{
    Console.Error.WriteLine("usage: RaySharp.Integration.Driver ADDRESS create-detached NAME");
    return 2;
}
using (Ray.Init(new RayOptions { Address = args[0], Namespace = "integration" }))
{
    var keeper = Keeper.Remote.WithOptions(new ActorOptions { Name = args[2], Lifetime = ActorLifetime.Detached }).Create();
    Console.WriteLine($"created {args[2]}: {await keeper.Increment()}");
}
return 0;
