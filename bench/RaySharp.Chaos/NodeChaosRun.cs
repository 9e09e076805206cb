using System.Diagnostics;
using System.Globalization;
using RaySharp.Testing;

namespace RaySharp.Chaos;

/// <summary>How a node-level fault run is set up.</summary>
public sealed record NodeChaosOptions
{
    /// <summary>Seeds the workload and the fault schedule.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Operations submitted: chains of three tasks, actor calls, and (with <see cref="LargeObjects"/>) a large
    /// array and a task reading it.</summary>
    public int Operations { get; init; } = 300;

    /// <summary>Time between faults.</summary>
    public TimeSpan FaultEvery { get; init; } = TimeSpan.FromSeconds(1.5);

    /// <summary>Run the GCS in its own process over a <see cref="RedisServer"/> and restart it as one of the faults (the
    /// first fault always, then one time in six).</summary>
    public bool GcsRestarts { get; init; }

    /// <summary>Add operations whose intermediate object lives in a node's shared-memory store (above the inline
    /// limit), so a killed node loses it and its owner rebuilds it from lineage.</summary>
    public bool LargeObjects { get; init; }

    /// <summary>Operations still unsettled this long after the start count as hangs.</summary>
    public TimeSpan Deadline { get; init; } = TimeSpan.FromMinutes(10);
}

/// <summary>What a node-level fault run ends with: operations submitted, faults injected, and how the work came out.</summary>
/// <param name="Operations">Operations submitted.</param>
/// <param name="WorkersKilled">Worker processes killed.</param>
/// <param name="NodesKilled">Nodes killed (each replaced by a new node).</param>
/// <param name="GcsRestarts">Times the GCS process was killed and started again.</param>
/// <param name="Lost">Retryable operations that failed.</param>
/// <param name="Wrong">Operations that returned a wrong value.</param>
/// <param name="Hangs">Operations that had not settled when the run's deadline passed.</param>
/// <param name="NonRetryableFailedAsDocumented">Operations without retries that failed with the documented exceptions.</param>
/// <param name="NonRetryableFailedOtherwise">Operations without retries that failed with anything else.</param>
public sealed record NodeChaosResult(int Seed, int Operations, int WorkersKilled, int NodesKilled, int GcsRestarts, int Lost, int Wrong, int Hangs,
    int NonRetryableFailedAsDocumented, int NonRetryableFailedOtherwise, IReadOnlyDictionary<string, int> FailuresByType, TimeSpan Elapsed)
{
    public int Faults => WorkersKilled + NodesKilled + GcsRestarts;

    public override string ToString() =>
        $"seed={Seed} operations={Operations} faults_injected={Faults} (workers_killed={WorkersKilled} nodes_killed={NodesKilled} " +
        $"gcs_restarts={GcsRestarts}) results_lost={Lost} wrong_results={Wrong} hangs={Hangs} " +
        $"non_retryable_failed_as_documented={NonRetryableFailedAsDocumented} " +
        $"non_retryable_failed_otherwise={NonRetryableFailedOtherwise} elapsed_s={Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)}" +
        (FailuresByType.Count == 0 ? "" : " failures: " + string.Join(", ", FailuresByType.Select(kv => $"{kv.Key}={kv.Value}")));
}

/// <summary>
/// Retryable work on a 3-node <see cref="TestCluster"/> — chains of three tasks, calls to actors that restart and, with
/// <see cref="NodeChaosOptions.LargeObjects"/>, large arrays read by a second task — while a seeded schedule kills worker
/// processes of the non-head nodes, kills non-head nodes outright (each replaced by a new node so the cluster keeps its
/// size) and, with <see cref="NodeChaosOptions.GcsRestarts"/>, kills the GCS process and starts it again over Redis.
/// One operation in ten has no retries: it must succeed or fail with the documented exception
/// (<see cref="WorkerCrashedException"/>, <see cref="NodeDiedException"/>, <see cref="ActorDiedException"/>,
/// <see cref="ObjectReconstructionFailedException"/>), and never hang. The head node is not killed.
/// </summary>
public static class NodeChaosRun
{
    /// <summary>Elements of a large array: 256 KiB, well above the 100 KiB inline limit.</summary>
    public const int LargeLength = 32 * 1024;

    public static NodeChaosResult Run(int seed, int operations, TimeSpan faultEvery, TextWriter log, TimeSpan? deadline = null) =>
        Run(new NodeChaosOptions { Seed = seed, Operations = operations, FaultEvery = faultEvery, Deadline = deadline ?? TimeSpan.FromMinutes(10) }, log);

    public static NodeChaosResult Run(NodeChaosOptions options, TextWriter log)
    {
        var watch = Stopwatch.StartNew();
        var random = new Random(options.Seed);
        using var redis = options.GcsRestarts ? RedisServer.Start() : null;
        using var cluster = TestCluster.Start(new TestClusterOptions { HeadNumCpus = 1, GcsStorage = redis?.Address });
        var nodes = new List<TestNode> { cluster.AddNode(numCpus: 2), cluster.AddNode(numCpus: 2) };
        cluster.WaitForNodes(3, TimeSpan.FromSeconds(60));
        log.WriteLine($"session {cluster.SessionDir}");
        using var ray = Ray.Init(new RayOptions { Address = cluster.Address });

        var retryable = new TaskOptions { MaxRetries = -1 };
        var once = new TaskOptions { MaxRetries = 0 };
        var doublers = Enumerable.Range(0, 3)
            .Select(_ => Doubler.Remote.WithOptions(new ActorOptions { MaxRestarts = -1, MaxTaskRetries = -1, NumCpus = 0 }).Create()).ToList();

        var ops = new List<(ObjectRef<long> Ref, long Expected, bool Retryable)>();
        for (int i = 0; i < options.Operations; i++)
        {
            bool retry = random.Next(10) != 0;
            long x = random.Next(1_000_000);
            int kind = random.Next(options.LargeObjects ? 4 : 3);
            var taskOptions = retry ? retryable : once;
            if (kind == 0)
            {
                // An actor call: restarts and retries are the actor's own (MaxRestarts, MaxTaskRetries).
                ops.Add((doublers[random.Next(doublers.Count)].Double(x), 2 * x, true));
            }
            else if (kind == 3)
            {
                // A large array in some node's store, summed by a second task that may run on another node.
                var array = ChaosChain.Remote.WithOptions(taskOptions).Fill(x, LargeLength);
                ops.Add((ChaosChain.Remote.WithOptions(taskOptions).Sum(array), ChaosChain.ExpectedSum(x, LargeLength), retry));
            }
            else
            {
                var a = ChaosChain.Remote.WithOptions(taskOptions).Step(x, 1);
                var b = ChaosChain.Remote.WithOptions(taskOptions).StepRef(a, 2);
                ops.Add((ChaosChain.Remote.WithOptions(taskOptions).StepRef(b, 3), x + 6, retry));
            }
        }

        using var stop = new CancellationTokenSource();
        int workersKilled = 0, nodesKilled = 0, gcsRestarts = 0;
        var injector = new Thread(() =>
        {
            while (!stop.Token.WaitHandle.WaitOne(options.FaultEvery))
            {
                try
                {
                    // With GCS restarts, the first fault is one (a short run still sees it), then the schedule draws.
                    int fault = options.GcsRestarts && gcsRestarts == 0 && workersKilled + nodesKilled == 0 ? 4 : random.Next(options.GcsRestarts ? 6 : 4);
                    if (fault == 0)
                    {
                        // Kill a whole node and add a new one in its place.
                        var victim = nodes[random.Next(nodes.Count)];
                        cluster.RemoveNode(victim, graceful: false);
                        nodes.Remove(victim);
                        nodesKilled++;
                        log.WriteLine($"{watch.Elapsed.TotalSeconds:0.0}s killed node {victim}");
                        nodes.Add(cluster.AddNode(numCpus: 2));
                    }
                    else if (fault == 4)
                    {
                        // Kill the GCS (a crash) and start it again over the same Redis after a moment down.
                        cluster.KillGcs();
                        log.WriteLine($"{watch.Elapsed.TotalSeconds:0.0}s killed the GCS");
                        stop.Token.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(200 + random.Next(1000)));
                        cluster.RestartGcs();
                        gcsRestarts++;
                        log.WriteLine($"{watch.Elapsed.TotalSeconds:0.0}s restarted the GCS");
                    }
                    else
                    {
                        var workers = nodes.SelectMany(n => WorkerProcesses.Of(n.ProcessId)).Order().ToList();
                        if (workers.Count == 0) continue;
                        int pid = workers[random.Next(workers.Count)];
                        try
                        {
                            Process.GetProcessById(pid).Kill();
                            workersKilled++;
                        }
                        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
                        {
                            // It exited on its own meanwhile.
                        }
                    }
                }
                catch (Exception e)
                {
                    log.WriteLine($"fault injection failed: {e.Message}");
                }
            }
        }) { IsBackground = true, Name = "node chaos" };
        injector.Start();

        int lost = 0, wrong = 0, asDocumented = 0, otherwise = 0;
        var failures = new Dictionary<string, int>();
        var pending = ops.ToList();
        var end = DateTime.UtcNow + options.Deadline;
        while (pending.Count > 0 && DateTime.UtcNow < end)
        {
            var ready = Ray.Wait([.. pending.Select(p => (ObjectRef)p.Ref)], numReturns: 1, timeout: TimeSpan.FromSeconds(5)).Ready.ToHashSet();
            foreach (var op in pending.Where(p => ready.Contains(p.Ref)).ToList())
            {
                pending.Remove(op);
                try
                {
                    if (op.Ref.Get() != op.Expected) wrong++;
                }
                catch (RayException e)
                {
                    string type = e.GetType().Name;
                    if (!failures.ContainsKey(type)) log.WriteLine($"first {type}: {e.Message}");
                    failures[type] = failures.GetValueOrDefault(type) + 1;
                    if (op.Retryable) lost++;
                    else if (e is WorkerCrashedException or NodeDiedException or ActorDiedException or ObjectReconstructionFailedException) asDocumented++;
                    else otherwise++;
                }
            }
        }
        stop.Cancel();
        injector.Join();
        log.WriteLine($"pending at the end: {pending.Count}");
        return new NodeChaosResult(options.Seed, options.Operations, workersKilled, nodesKilled, gcsRestarts, lost, wrong, pending.Count,
            asDocumented, otherwise, failures, watch.Elapsed);
    }
}

public static partial class ChaosChain
{
    [RayRemote]
    public static long Step(long x, long add)
    {
        Thread.Sleep(5);
        return x + add;
    }

    [RayRemote]
    public static long StepRef(ObjectRef<long> x, long add)
    {
        Thread.Sleep(5);
        return x.Get() + add;
    }

    /// <summary>An array of <paramref name="length"/> values derived from <paramref name="x"/>.</summary>
    [RayRemote]
    public static long[] Fill(long x, int length)
    {
        var values = new long[length];
        for (int i = 0; i < length; i++) values[i] = x + i;
        return values;
    }

    [RayRemote]
    public static long Sum(long[] values)
    {
        long sum = 0;
        foreach (long v in values) sum += v;
        return sum;
    }

    /// <summary>What <see cref="Sum"/> of <see cref="Fill"/>(x, length) returns.</summary>
    public static long ExpectedSum(long x, int length) => x * length + (long)length * (length - 1) / 2;
}

/// <summary>A stateless actor: its answers do not depend on restarts.</summary>
[RayRemote]
public partial class Doubler
{
    public long Double(long x) => 2 * x;
}

/// <summary>RaySharp worker processes under a parent process (Linux /proc).</summary>
public static class WorkerProcesses
{
    public static IEnumerable<int> Of(int parent)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            string stat;
            try { stat = File.ReadAllText(Path.Combine(dir, "stat")); }
            catch (IOException) { continue; }
            catch (UnauthorizedAccessException) { continue; }
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (fields.Length > 1 && int.TryParse(fields[1], out int ppid) && ppid == parent && IsWorker(dir)) yield return pid;
        }
    }

    private static bool IsWorker(string procDir)
    {
        try
        {
            var args = File.ReadAllText(Path.Combine(procDir, "cmdline")).Split('\0');
            return args.Contains("worker") && args.Contains("--worker-id");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
