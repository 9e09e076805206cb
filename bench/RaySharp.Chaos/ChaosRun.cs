using System.Diagnostics;
using System.Globalization;

namespace RaySharp.Chaos;

/// <summary>What a fault run ends with.</summary>
public sealed record ChaosResult(int Tasks, int Succeeded, int Failed, int Lost, int RanMoreThanOnce, int WorkersKilled,
    IReadOnlyDictionary<string, int> FailuresByType, TimeSpan Elapsed)
{
    public override string ToString() =>
        $"tasks={Tasks} succeeded={Succeeded} failed={Failed} lost={Lost} ran_more_than_once={RanMoreThanOnce} " +
        $"workers_killed={WorkersKilled} elapsed_s={Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)}" +
        (FailuresByType.Count == 0 ? "" : " failures: " + string.Join(", ", FailuresByType.Select(kv => $"{kv.Key}={kv.Value}")));
}

/// <summary>Tasks with retries on the embedded cluster while a seeded random worker process is killed periodically.</summary>
public static class ChaosRun
{
    /// <param name="tasks">Tasks submitted, each with <c>MaxRetries = 3</c>.</param>
    /// <param name="killEvery">Time between kills.</param>
    /// <param name="seed">Seeds which worker is killed.</param>
    /// <param name="cpus">CPUs of the embedded cluster.</param>
    /// <param name="log">Where the run says what it did.</param>
    /// <param name="deadline">Tasks unsettled after this long are lost.</param>
    /// <param name="tasksPerKill">When above 0, a kill also waits until this many more tasks finished since the last one,
    /// so a slow (busy) machine sees as many kills per task as a fast one, not more.</param>
    public static ChaosResult Run(int tasks, TimeSpan killEvery, int seed, int cpus, TextWriter log, TimeSpan? deadline = null, int tasksPerKill = 0)
    {
        var watch = Stopwatch.StartNew();
        using var ray = Ray.Init(new RayOptions { NumCpus = cpus });
        var ledger = Ledger.Remote.Create(tasks);
        int ledgerPid = ledger.Pid().Get(TimeSpan.FromSeconds(60));
        var retry = new TaskOptions { MaxRetries = 3 };
        var refs = Enumerable.Range(0, tasks).Select(i => ChaosTasks.Remote.WithOptions(retry).Work(i, ledger)).ToList();

        using var stop = new CancellationTokenSource();
        var random = new Random(seed);
        int killed = 0, settled = 0, settledAtLastKill = 0;
        var killer = new Thread(() =>
        {
            while (!stop.Token.WaitHandle.WaitOne(killEvery))
            {
                if (tasksPerKill > 0 && Volatile.Read(ref settled) - settledAtLastKill < tasksPerKill) continue;
                settledAtLastKill = Volatile.Read(ref settled);
                var workers = WorkerProcesses.Of(Environment.ProcessId).Where(p => p != ledgerPid).Order().ToList();
                if (workers.Count == 0) continue;
                int victim = workers[random.Next(workers.Count)];
                try
                {
                    Process.GetProcessById(victim).Kill();
                    killed++;
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
                {
                    // It exited on its own meanwhile.
                }
            }
        }) { IsBackground = true, Name = "chaos killer" };
        killer.Start();

        int succeeded = 0, failed = 0;
        var failures = new Dictionary<string, int>();
        var pending = refs.ToList();
        var end = DateTime.UtcNow + (deadline ?? TimeSpan.FromMinutes(10));
        while (pending.Count > 0 && DateTime.UtcNow < end)
        {
            var ready = Ray.Wait(pending, numReturns: 1, timeout: TimeSpan.FromSeconds(5)).Ready;
            foreach (var r in ready)
            {
                pending.Remove(r);
                Interlocked.Increment(ref settled);
                try
                {
                    r.Get();
                    succeeded++;
                }
                catch (RayException e)
                {
                    failed++;
                    string type = e.GetType().Name;
                    failures[type] = failures.GetValueOrDefault(type) + 1;
                }
            }
        }
        stop.Cancel();
        killer.Join();
        var executions = ledger.Executions().Get(TimeSpan.FromSeconds(60));
        int moreThanOnce = executions.Count(n => n > 1);
        log.WriteLine($"pending at the end: {pending.Count}");
        return new ChaosResult(tasks, succeeded, failed, pending.Count, moreThanOnce, killed, failures, watch.Elapsed);
    }
}

public static partial class ChaosTasks
{
    /// <summary>Records that it ran, works a little, and returns its index.</summary>
    [RayRemote]
    public static int Work(int index, ActorHandle<Ledger> ledger)
    {
        ledger.Record(index).Get();
        Thread.Sleep(20 + index % 30);
        return index;
    }
}

/// <summary>Counts how often each task ran (kept out of the killer's reach by its pid).</summary>
[RayRemote]
public partial class Ledger(int tasks)
{
    private readonly int[] _runs = new int[tasks];

    public int Pid() => Environment.ProcessId;

    public int Record(int index) => ++_runs[index];

    public int[] Executions() => _runs;
}
