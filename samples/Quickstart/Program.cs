using Quickstart;
using RaySharp;

// Start RaySharp: with no address, Ray.Init() starts a single-node cluster (GCS and raylet in this
// process, workers in child processes) that stops with this program.
using var ray = Ray.Init();
Console.WriteLine($"driver pid: {Environment.ProcessId}");

// Tasks run in worker processes: their PIDs are not the driver's.
var pids = Ray.Get(Enumerable.Range(0, 4).Select(i => MathTasks.Remote.WhereAmI(i)).ToList());
Console.WriteLine($"task pids: {string.Join(", ", pids.Distinct())}");

// Tasks: fan out, then gather.
var squares = Enumerable.Range(0, 8).Select(i => MathTasks.Remote.Square(i)).ToList();
Console.WriteLine($"squares: {string.Join(", ", Ray.Get(squares))}");

// Refs flow into other tasks without a round trip through the driver.
var total = MathTasks.Remote.Add(squares[3], squares[4]);
Console.WriteLine($"3^2 + 4^2 = {await total}");

// An actor: state that lives in one place, updated in call order.
var counter = Counter.Remote.WithOptions(new ActorOptions { Name = "visits" }).Create("home page");
for (int i = 0; i < 5; i++)
{
    _ = counter.Increment();   // fire and forget: calls from one caller still run in order
    Console.WriteLine(await counter.Describe());
}

// Anyone can find a named actor.
var same = Ray.GetActor<Counter>("visits");
Console.WriteLine($"via name: {await same.Describe()}");

// A placement group reserves resources in bundles, all or nothing; work scheduled into a bundle runs in its reservation.
var pg = Ray.CreatePlacementGroup([new Dictionary<string, double> { ["CPU"] = 1 }], PlacementStrategy.Pack);
await pg.ReadyAsync();
var inBundle = MathTasks.Remote.WithOptions(new TaskOptions { SchedulingStrategy = new PlacementGroupSchedulingStrategy(pg, bundleIndex: 0) })
    .Square(9);
Console.WriteLine($"in placement group {pg.Id.ToString()[..8]}: 9^2 = {await inBundle}");
Ray.RemovePlacementGroup(pg);

// Errors come back with what the remote code threw.
try
{
    await MathTasks.Remote.Divide(1, 0);
}
catch (RayTaskException e) when (e.IsCausedBy<DivideByZeroException>())
{
    Console.WriteLine($"remote error: {e.RemoteExceptionType} in {e.FunctionName}");
}

Console.WriteLine($"cluster: {string.Join(", ", Ray.ClusterResources().Where(r => r.Key is "CPU" or "GPU").Select(r => $"{r.Key}={r.Value}"))}");
