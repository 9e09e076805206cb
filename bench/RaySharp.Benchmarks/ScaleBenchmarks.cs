using System.Diagnostics;
using System.Globalization;

namespace RaySharp.Benchmarks;

/// <summary>
/// The scale rows of issue-sized workloads that are not a rate of small calls: many tasks queued at once (Ray's
/// "1,000,000 queued tasks" of its scalability envelope), a worker process's start to its first task, and many actors
/// created at once. Each runs on its own fresh cluster (<see cref="MicrobenchmarkOptions.RayOptions"/>), so one row's
/// leftover workers do not weigh on the next.
/// </summary>
internal static class ScaleBenchmarks
{
    public const string QueuedTasksName = "tasks queued on one node";
    public const string WorkerStartName = "worker process start to first task";
    public const string ActorsAtOnceName = "actors created at once";

    public static IReadOnlyList<string> Names { get; } = [QueuedTasksName, WorkerStartName, ActorsAtOnceName];

    /// <summary>Refs waited for and released together while the queue drains.</summary>
    private const int DrainChunk = 10_000;

    /// <summary>Runs the rows named in <paramref name="selected"/>; <paramref name="add"/> records a row (name, operations,
    /// seconds, what it measured besides the rate).</summary>
    public static async Task RunAsync(IReadOnlyList<string> selected, MicrobenchmarkOptions options,
        Action<string, long, double, string> add, Action<string> note, CancellationToken ct)
    {
        note("scale rows: ops/s is operations over the whole row's time; the line under each says what it measured");
        foreach (var name in selected)
        {
            ct.ThrowIfCancellationRequested();
            // Leftovers of the previous row (refs awaiting finalization) are not this one's cost.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            using var ray = Ray.Init(options.RayOptions);
            switch (name)
            {
                case QueuedTasksName:
                    QueuedTasks(options.QueuedTasks, add, ct);
                    break;
                case WorkerStartName:
                    WorkerStarts(options.WorkerStarts, add, ct);
                    break;
                case ActorsAtOnceName:
                    ActorsAtOnce(options.ActorsAtOnce, add, ct);
                    break;
            }
            await Task.Yield();
        }
    }

    /// <summary>Submits <paramref name="count"/> empty tasks before waiting for any, then waits for them in order; reports
    /// the submit rate, the drain rate and this process's peak resident memory while they were queued.</summary>
    private static void QueuedTasks(int count, Action<string, long, double, string> add, CancellationToken ct)
    {
        // Workers started and code jitted first, as the other rows' warm-up does.
        var warm = new List<ObjectRef<byte[]>>(100);
        for (int i = 0; i < 100; i++) warm.Add(BenchTasks.Remote.SmallValue());
        Calls.GetAndRelease(warm);

        long before = ResidentBytes.Of(Environment.ProcessId);
        using var peak = new PeakMemory();
        var refs = new ObjectRef<byte[]>[count];
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < refs.Length; i++)
        {
            if ((i & 0xFFFF) == 0) ct.ThrowIfCancellationRequested();
            refs[i] = BenchTasks.Remote.SmallValue();
        }
        double submitted = clock.Elapsed.TotalSeconds;
        var chunk = new List<ObjectRef<byte[]>>(DrainChunk);
        for (int i = 0; i < refs.Length; i += DrainChunk)
        {
            ct.ThrowIfCancellationRequested();
            for (int j = i; j < Math.Min(refs.Length, i + DrainChunk); j++)
            {
                chunk.Add(refs[j]);
                refs[j] = null!;
            }
            Calls.GetAndRelease(chunk);
        }
        double total = clock.Elapsed.TotalSeconds;
        long highest = peak.Stop();
        add(QueuedTasksName, count, total, string.Create(CultureInfo.InvariantCulture,
            $"{count:N0} tasks: submitted in {submitted:0.0} s ({count / submitted:N0}/s), all finished {total:0.0} s after the first " +
            $"({count / total:N0}/s); this process (driver, GCS and raylet) peaked at {Mb(highest)} resident, {Mb(highest - before)} above " +
            $"its start, {(double)(highest - before) / count:N0} B per queued task"));
    }

    /// <summary>Runs <paramref name="count"/> tasks one after another, each in a fresh worker process (a runtime env of its
    /// own makes the raylet start one), and reports the time from each process's start to its first task.</summary>
    private static void WorkerStarts(int count, Action<string, long, double, string> add, CancellationToken ct)
    {
        var inWorker = new double[count];
        var submitToResult = new double[count];
        string run = Guid.NewGuid().ToString("N")[..8];
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            ct.ThrowIfCancellationRequested();
            var fresh = new TaskOptions
            {
                RuntimeEnv = new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["RAYSHARP_BENCH_WORKER"] = $"{run}-{i}" } },
            };
            var call = Stopwatch.StartNew();
            using var age = BenchTasks.Remote.WithOptions(fresh).ProcessAge();
#pragma warning disable RAY103 // One at a time on purpose: each sample times one fresh worker starting alone.
            inWorker[i] = Ray.Get(age)[0];
#pragma warning restore RAY103
            submitToResult[i] = call.Elapsed.TotalMilliseconds;
        }
        double seconds = clock.Elapsed.TotalSeconds;
        add(WorkerStartName, count, seconds, string.Create(CultureInfo.InvariantCulture,
            $"{count} fresh workers, one at a time: process start to first task p50 {Percentile(inWorker, 50):N0} ms, p99 " +
            $"{Percentile(inWorker, 99):N0} ms; the driver's submit to result p50 {Percentile(submitToResult, 50):N0} ms, p99 " +
            $"{Percentile(submitToResult, 99):N0} ms"));
    }

    /// <summary>Creates <paramref name="count"/> actors before waiting for any, then one call to each; reports the time until
    /// every one answered and the resident memory of their worker processes.</summary>
    private static void ActorsAtOnce(int count, Action<string, long, double, string> add, CancellationToken ct)
    {
        var actors = new ActorHandle<BenchActor>[count];
        try
        {
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < actors.Length; i++) actors[i] = BenchActor.Remote.Create();
            var answers = new List<ObjectRef<long[]>>(count);
            foreach (var actor in actors) answers.Add(actor.ProcessMemory());
            var memory = Ray.Get(answers);
            double seconds = clock.Elapsed.TotalSeconds;
            foreach (var r in answers) r.Dispose();
            ct.ThrowIfCancellationRequested();
            // Each actor read its own memory once ready; read again now that all exist (their heaps have settled).
            var rollups = memory.Select(m => ResidentBytes.Rollup((int)m[0])).Where(r => r.Rss > 0).ToArray();
            var rss = rollups.Length > 0 ? rollups.Select(r => (double)r.Rss).ToArray() : [.. memory.Select(m => (double)m[1])];
            string shares = rollups.Length == 0 ? "" : string.Create(CultureInfo.InvariantCulture,
                $"; PSS median {Mb((long)Percentile([.. rollups.Select(r => (double)r.Pss)], 50))}, private median " +
                $"{Mb((long)Percentile([.. rollups.Select(r => (double)r.Private)], 50))} (the rest of RSS is the runtime's files, shared by all workers)");
            add(ActorsAtOnceName, count, seconds, string.Create(CultureInfo.InvariantCulture,
                $"{count} actors, all ready and answering {seconds:0.0} s after the first was created; worker RSS median " +
                $"{Mb((long)Percentile(rss, 50))}, max {Mb((long)rss.Max())}, mean {Mb((long)rss.Average())}{shares}"));
        }
        finally
        {
            foreach (var actor in actors)
            {
                if (actor is null) continue;
                Ray.Kill(actor);
                actor.Dispose();
            }
        }
    }

    private static string Mb(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024.0):N0} MB");

    private static double Percentile(double[] values, int percentile)
    {
        var sorted = values.Order().ToArray();
        int index = (int)Math.Ceiling(percentile / 100.0 * sorted.Length) - 1;
        return sorted[Math.Clamp(index, 0, sorted.Length - 1)];
    }

    /// <summary>Samples this process's resident memory every 20 ms until stopped; the highest sample.</summary>
    private sealed class PeakMemory : IDisposable
    {
        private readonly Timer _timer;
        private long _peak;

        public PeakMemory()
        {
            _peak = ResidentBytes.Of(Environment.ProcessId);
            _timer = new Timer(_ => Sample(), null, TimeSpan.Zero, TimeSpan.FromMilliseconds(20));
        }

        private void Sample()
        {
            long now = ResidentBytes.Of(Environment.ProcessId);
            long seen = Volatile.Read(ref _peak);
            while (now > seen)
            {
                long previous = Interlocked.CompareExchange(ref _peak, now, seen);
                if (previous == seen) break;
                seen = previous;
            }
        }

        public long Stop()
        {
            _timer.Dispose();
            Sample();
            return Volatile.Read(ref _peak);
        }

        public void Dispose() => _timer.Dispose();
    }
}
