using System.Diagnostics;
using RaySharp;
using RaySharp.MultiHost.Driver;

// The multi-host test's driver: joins the cluster at RAY_ADDRESS (with RAY_AUTH_TOKEN) from the head's host, ships its own
// build output as the job's working dir, and answers commands read from stdin, one per line, with one line each:
// "OK <command> ..." or "FAIL <command> <why>". Usage: RaySharp.MultiHost.Driver TEMP_DIR
//   basic                       on every alive node: a task and an actor (kept), each saying where it runs and loaded its code
//   transfer FROM TO MIB        an array of MIB MiB made on node FROM, read here (timed) and by a task on node TO
//   loss NODE                   tasks on NODE and calls of its actor (while the test drops some of its packets)
//   partition-prepare NODE      a task that stalls on NODE (soft affinity, retried); waits until it and NODE's actor run
//   partition-wait NODE         (after NODE was cut off) waits until NODE is dead, then for the task and actor to recover
if (args.Length != 1)
{
    Console.Error.WriteLine("usage: RaySharp.MultiHost.Driver TEMP_DIR");
    return 2;
}
var timeout = TimeSpan.FromSeconds(60);
using var ray = Ray.Init(new RayOptions
{
    TempDir = args[0], Namespace = "multihost",
    // No shared filesystem: the other hosts' workers load this program from the package of this directory.
    RuntimeEnv = new RuntimeEnv { WorkingDir = AppContext.BaseDirectory },
});
Console.WriteLine($"READY {Ray.GetRuntimeContext().NodeId}");
ObjectRef<string>? stalled = null;
ActorHandle<Counter>? stranded = null;
var counters = new Dictionary<string, ActorHandle<Counter>>();
ActorHandle<Gate>? gate = null;
NodeId Node(string id) => Ray.Nodes().Single(n => n.Id.ToString() == id).Id;
TaskOptions On(string id, bool soft = false) => new() { SchedulingStrategy = new NodeAffinitySchedulingStrategy(Node(id), soft) };

while (Console.ReadLine() is { } line)
{
    var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
    if (words.Length == 0) continue;
    try
    {
        switch (words[0])
        {
            case "basic":
            {
                // Every node at once: a task (hard affinity) and an actor (soft affinity, so that it can be restarted
                // elsewhere when its node dies; it lands on its node while that node is alive), kept for the later commands.
                var alive = Ray.Nodes().Where(n => n.Alive).ToList();
                // The tasks first: their workers, idle again, are there for the actors to take.
                var where = await Task.WhenAll(alive.Select(n => Work.Remote.WithOptions(On(n.Id.ToString())).Where().AsTask())).WaitAsync(timeout);
                foreach (var node in alive)
                    counters[node.Id.ToString()] = Counter.Remote.WithOptions(new ActorOptions
                    {
                        SchedulingStrategy = new NodeAffinitySchedulingStrategy(node.Id, soft: true), MaxRestarts = 2, MaxTaskRetries = 2,
                    }).Create();
                var calls = alive.Select(async n =>
                {
                    await counters[n.Id.ToString()].Increment();
                    return await counters[n.Id.ToString()].Increment();
                }).ToList();
                var actors = await Task.WhenAll(calls).WaitAsync(timeout);
                var parts = alive.Select((n, i) => $"{n.Id}|{n.Address}|{where[i].Replace(' ', '|')}|{actors[i].Replace(' ', '|')}");
                Console.WriteLine("OK basic " + string.Join(' ', parts));
                break;
            }
            case "transfer":
            {
                int mib = int.Parse(words[3], System.Globalization.CultureInfo.InvariantCulture);
                var made = Work.Remote.WithOptions(On(words[1])).Make(mib);
                // Made and sealed on FROM before the clock starts: the time is the pull from FROM to this host.
                if (Ray.Wait([made], 1, timeout, fetchLocal: false).Ready.Count != 1) throw new TimeoutException("the array was not made in time");
                var clock = Stopwatch.StartNew();
                string here;
                using (var view = Ray.GetView(made, timeout)) here = Work.Verify(view.Span);
                double seconds = clock.Elapsed.TotalSeconds;
                string there = await Work.Remote.WithOptions(On(words[2])).Check(made);
                Console.WriteLine($"OK transfer bytes={mib * 1024L * 1024} seconds={seconds:0.000} mbps={mib * 1.048576 / seconds:0.0} " +
                    $"here={here.Replace(' ', '|')} there={there.Replace(' ', '|')}");
                break;
            }
            case "loss":
            {
                var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Work.Remote.WithOptions(On(words[1])).Where().AsTask()))
                    .WaitAsync(timeout);
                string last = "";
                for (int i = 0; i < 20; i++) last = await counters[words[1]].Increment().AsTask().WaitAsync(timeout);
                Console.WriteLine($"OK loss tasks={results.Count(r => r.StartsWith(words[1], StringComparison.Ordinal))} actor={last.Replace(' ', '|')}");
                break;
            }
            case "partition-prepare":
            {
                string target = words[1];
                string self = Ray.GetRuntimeContext().NodeId.ToString();
                gate = Gate.Remote.WithOptions(new ActorOptions { SchedulingStrategy = new NodeAffinitySchedulingStrategy(Node(self), false) }).Create();
                stalled = Work.Remote.WithOptions(On(target, soft: true) with { MaxRetries = 3 }).StallOn(gate, target);
                stranded = counters[target];
                string actorAt = await stranded.Increment();
                var until = DateTime.UtcNow + timeout;
                while (!(await gate.StartedOn()).Contains(target))
                {
                    if (DateTime.UtcNow > until) throw new TimeoutException("the stalling task did not start on its node");
                    await Task.Delay(50); // polling the gate actor: the task reports there when it starts
                }
                Console.WriteLine($"OK partition-prepare actor={actorAt.Replace(' ', '|')}");
                break;
            }
            case "partition-wait":
            {
                var clock = Stopwatch.StartNew();
                var node = Node(words[1]);
                while (Ray.Nodes().Single(n => n.Id == node).Alive)
                {
                    if (clock.Elapsed > timeout) throw new TimeoutException($"node {node} was not declared dead within {timeout.TotalSeconds} s");
                    await Task.Delay(50); // polling the node table: the GCS declares the death after missed health checks
                }
                double detected = clock.Elapsed.TotalSeconds;
                string recovered = await stalled!.AsTask().WaitAsync(timeout);
                string actor = await stranded!.Increment().AsTask().WaitAsync(timeout);
                Console.WriteLine($"OK partition-wait detect_s={detected:0.00} recover_s={clock.Elapsed.TotalSeconds:0.00} task_on={recovered} " +
                    $"actor={actor.Replace(' ', '|')}");
                break;
            }
            default:
                Console.WriteLine($"FAIL {words[0]} unknown command");
                break;
        }
    }
    catch (Exception e)
    {
        Console.WriteLine($"FAIL {words[0]} {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
    }
}
return 0;
