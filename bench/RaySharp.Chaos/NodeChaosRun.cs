using System.Diagnostics;
using System.Globalization;
using RaySharp.Testing;

namespace RaySharp.Chaos;

/// <summary>What a node-level fault run ends with: operations submitted, faults injected, and how the work came out.</summary>
/// <param name="Operations">Operations submitted (a chain of three tasks, or an actor call).</param>
/// <param name="Faults">Faults injected: worker processes killed, nodes killed (each replaced by a new node).</param>
/// <param name="Lost">Retryable operations that failed.</param>
/// <param name="Wrong">Operations that returned a wrong value.</param>
/// <param name="Hangs">Operations that had not settled when the run's deadline passed.</param>
/// <param name="NonRetryableFailedAsDocumented">Operations without retries that failed with the documented exceptions.</param>
/// <param name="NonRetryableFailedOtherwise">Operations without retries that failed with anything else.</param>
public sealed record NodeChaosResult(int Seed, int Operations, int WorkersKilled, int NodesKilled, int Lost, int Wrong, int Hangs,
    int NonRetryableFailedAsDocumented, int NonRetryableFailedOtherwise, IReadOnlyDictionary<string, int> FailuresByType, TimeSpan Elapsed)
{
    public int Faults => WorkersKilled + NodesKilled;

    public override string ToString() =>
        $"seed={Seed} operations={Operations} faults_injected={Faults} (workers_killed={WorkersKilled} nodes_killed={NodesKilled}) " +
        $"results_lost={Lost} wrong_results={Wrong} hangs={Hangs} non_retryable_failed_as_documented={NonRetryableFailedAsDocumented} " +
        $"non_retryable_failed_otherwise={NonRetryableFailedOtherwise} elapsed_s={Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)}" +
        (FailuresByType.Count == 0 ? "" : " failures: " + string.Join(", ", FailuresByType.Select(kv => $"{kv.Key}={kv.Value}")));
}

/// <summary>
/// Retryable work — chains of three tasks and calls to actors that restart — on a 3-node <see cref="TestCluster"/> while a
/// seeded schedule kills worker processes of the non-head nodes, and kills non-head nodes outright (each replaced by a new
/// node so the cluster keeps its size). One operation in ten has no retries: it must succeed or fail with the documented
/// exception (<see cref="WorkerCrashedException"/>, <see cref="NodeDiedException"/>, <see cref="ActorDiedException"/>), and
/// never hang. The head (which hosts the GCS) is not killed here.
/// </summary>
public static class NodeChaosRun
{
    public static NodeChaosResult Run(int seed, int operations, TimeSpan faultEvery, TextWriter log, TimeSpan? deadline = null)
    {
        var watch = Stopwatch.StartNew();
        var random = new Random(seed);
        using var cluster = TestCluster.Start(new TestClusterOptions { HeadNumCpus = 1 });
        var nodes = new List<TestNode> { cluster.AddNode(numCpus: 2), cluster.AddNode(numCpus: 2) };
        cluster.WaitForNodes(3, TimeSpan.FromSeconds(60));
        using var ray = Ray.Init(new RayOptions { Address = cluster.Address });

        var retryable = new TaskOptions { MaxRetries = -1 };
        var once = new TaskOptions { MaxRetries = 0 };
        var doublers = Enumerable.Range(0, 3)
            .Select(_ => Doubler.Remote.WithOptions(new ActorOptions { MaxRestarts = -1, MaxTaskRetries = -1, NumCpus = 0 }).Create()).ToList();

        var ops = new List<(ObjectRef<long> Ref, long Expected, bool Retryable)>();
        for (int i = 0; i < operations; i++)
        {
            bool retry = random.Next(10) != 0;
            long x = random.Next(1_000_000);
            if (random.Next(3) == 0)
            {
                // An actor call: restarts and retries are the actor's own (MaxRestarts, MaxTaskRetries).
                ops.Add((doublers[random.Next(doublers.Count)].Double(x), 2 * x, true));
            }
            else
            {
                var options = retry ? retryable : once;
                var a = ChaosChain.Remote.WithOptions(options).Step(x, 1);
                var b = ChaosChain.Remote.WithOptions(options).StepRef(a, 2);
                ops.Add((ChaosChain.Remote.WithOptions(options).StepRef(b, 3), x + 6, retry));
            }
        }

        using var stop = new CancellationTokenSource();
        int workersKilled = 0, nodesKilled = 0;
        var faultLock = new Lock();
        var injector = new Thread(() =>
        {
            while (!stop.Token.WaitHandle.WaitOne(faultEvery))
            {
                lock (faultLock)
                {
                    try
                    {
                        if (random.Next(4) == 0)
                        {
                            // Kill a whole node and add a new one in its place.
                            var victim = nodes[random.Next(nodes.Count)];
                            cluster.RemoveNode(victim, graceful: false);
                            nodes.Remove(victim);
                            nodesKilled++;
                            log.WriteLine($"{watch.Elapsed.TotalSeconds:0.0}s killed node {victim}");
                            nodes.Add(cluster.AddNode(numCpus: 2));
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
            }
        }) { IsBackground = true, Name = "node chaos" };
        injector.Start();

        int lost = 0, wrong = 0, asDocumented = 0, otherwise = 0;
        var failures = new Dictionary<string, int>();
        var pending = ops.ToList();
        var end = DateTime.UtcNow + (deadline ?? TimeSpan.FromMinutes(10));
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
                    else if (e is WorkerCrashedException or NodeDiedException or ActorDiedException) asDocumented++;
                    else otherwise++;
                }
            }
        }
        stop.Cancel();
        injector.Join();
        log.WriteLine($"pending at the end: {pending.Count}");
        return new NodeChaosResult(seed, operations, workersKilled, nodesKilled, lost, wrong, pending.Count, asDocumented, otherwise, failures,
            watch.Elapsed);
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
            return args.Any(a => a.EndsWith("RaySharp.Runtime.dll", StringComparison.Ordinal)) && args.Contains("worker");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
