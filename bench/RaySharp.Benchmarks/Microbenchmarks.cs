using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace RaySharp.Benchmarks;

/// <summary>
/// RaySharp's <c>ray microbenchmark</c>: Ray's core workloads on a running cluster, each reported as ops/s and
/// as a ratio to two raw gRPC baselines measured in the same run over the same stack (Kestrel HTTP/2,
/// Grpc.Net.Client, MemoryPack) — a sequential round trip, and a pipelined bidirectional stream.
/// </summary>
public static class Microbenchmarks
{
    /// <summary>The baseline of the "sync" workloads: one unary echo call at a time over a Unix socket.</summary>
    public const string SequentialRpcName = "raw gRPC round trip sequential";

    /// <summary>A third reference row, not a ratio column: one message at a time on a bidirectional stream.</summary>
    public const string StreamPingPongName = "raw gRPC stream ping-pong";

    /// <summary>The baseline of the "async" workloads: batches of 1000 echoes on one bidirectional stream.</summary>
    public const string PipelinedRpcName = "raw gRPC round trip pipelined";

    /// <summary>The baseline of the rows with large arguments: one unary call at a time carrying that many bytes,
    /// answered with two.</summary>
    public static string PayloadRpcName(int bytes) => $"raw gRPC round trip sequential with {Workloads.SizeName(bytes)}";

    /// <summary>The names of the scale rows (1,000,000 queued tasks, worker start, many actors at once), in the order they run.</summary>
    public static IReadOnlyList<string> ScaleNames => ScaleBenchmarks.Names;

    /// <summary>The names of the Ray workloads, in the order they run.</summary>
    public static IReadOnlyList<string> WorkloadNames { get; } = [.. Workloads.All.Select(w => w.Name)];

    /// <summary>The names of the Orleans peer's rows, in the order they run (after the workloads).</summary>
    public static IReadOnlyList<string> OrleansWorkloadNames { get; } = [.. OrleansWorkloads.All.Select(w => w.Name)];

    /// <summary>
    /// Measures the two baselines, then starts RaySharp (<see cref="MicrobenchmarkOptions.RayOptions"/>), runs
    /// each selected workload and shuts RaySharp down; then, unless <see cref="MicrobenchmarkOptions.Orleans"/> is off, starts
    /// the Orleans peer (a silo process) and measures its rows. Rows are written to <paramref name="output"/> as they are
    /// measured; RaySharp must not already be initialized in this process.
    /// </summary>
    /// <returns>The baselines first, then the workloads, then the Orleans rows.</returns>
    public static async Task<IReadOnlyList<MicrobenchmarkResult>> RunAsync(TextWriter output, MicrobenchmarkOptions options,
        CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Duration <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(options), "Duration must be positive.");
        if (options.Warmup < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(options), "Warmup cannot be negative.");

        var total = Stopwatch.StartNew();
        output.WriteLine($"{Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, .NET {Environment.Version}; " +
                         $"{options.Duration.TotalSeconds:0.##} s per benchmark after {options.Warmup.TotalSeconds:0.##} s of warm-up");
        var results = new List<MicrobenchmarkResult>();
        var table = new ResultTable(output);

        bool Matches(string name) => options.Filter is null || name.Contains(options.Filter, StringComparison.OrdinalIgnoreCase);
        var orleans = options.Orleans == OrleansPeerRows.Off ? []
            : OrleansWorkloads.All.Where(w => Matches(w.Name) || Matches(w.Counterpart)).ToList();
        var selected = options.Scale == ScaleRows.Only ? []
            : Workloads.All.Where(w => Matches(w.Name) &&
                                       (options.Orleans != OrleansPeerRows.Only || orleans.Any(o => o.Counterpart == w.Name))).ToList();
        var scale = options.Scale == ScaleRows.Off || options.Orleans == OrleansPeerRows.Only ? []
            : ScaleBenchmarks.Names.Where(Matches).ToList();

        Measurement sequential, pingPong, pipelined;
        var withPayload = new Dictionary<int, Measurement>();
        await using (var rpc = await RawRpcBaseline.StartAsync(ct).ConfigureAwait(false))
        {
            sequential = await MeasureAsync(rpc.UnaryAsync, 1, options, ct).ConfigureAwait(false);
            pingPong = await MeasureAsync(() => rpc.StreamPingPongAsync(ct), 1, options, ct).ConfigureAwait(false);
            pipelined = await MeasureAsync(() => rpc.StreamBatchAsync(Workloads.Batch, ct), Workloads.Batch, options, ct)
                .ConfigureAwait(false);
            // The same unary call carrying each argument size a selected row uses.
            foreach (int size in selected.Select(w => w.ArgumentBytes).Where(b => b > 0).Distinct())
            {
                var payload = new byte[size];
                withPayload[size] = await MeasureAsync(() => rpc.UnaryWithPayloadAsync(payload), 1, options, ct).ConfigureAwait(false);
            }
        }
        MicrobenchmarkResult Add(string name, Measurement m, string? detail = null)
        {
            var result = new MicrobenchmarkResult(name, m.Operations, m.Seconds, m.OpsPerSecond,
                m.OpsPerSecond / sequential.OpsPerSecond, m.OpsPerSecond / pipelined.OpsPerSecond, m.OpsPerSecond / pingPong.OpsPerSecond,
                m.AllocatedBytesPerOperation, detail);
            results.Add(result);
            table.Write(result);
            return result;
        }
        table.WriteHeader();
        Add(SequentialRpcName, sequential);
        Add(StreamPingPongName, pingPong);
        Add(PipelinedRpcName, pipelined);
        foreach (var (size, m) in withPayload) Add(PayloadRpcName(size), m);

        using var profiler = options.ProfileAllocations ? new AllocationProfiler() : null;
        if (selected.Count > 0)
        {
            using var ray = Ray.Init(options.RayOptions);
            foreach (var workload in selected)
            {
                using var prepared = workload.Prepare();
                var measured = await MeasureAsync(prepared.Call, workload.OpsPerCall, options, ct, profiler).ConfigureAwait(false);
                Add(workload.Name, measured);
                if (profiler is not null)
                    foreach (var (type, bytes, share) in profiler.Stop(measured.Operations))
                        table.WriteNote($"{bytes,9:N0} B/op {share,6:P0}  {type}");
                if (workload.InRoundTrips)
                    table.WriteNote($"one operation costs {sequential.OpsPerSecond / measured.OpsPerSecond:0.0} sequential round trips " +
                                    $"({1e6 / measured.OpsPerSecond:N0} us)");
                if (workload.ArgumentBytes > 0)
                    table.WriteNote($"{ResultTable.Ratio(measured.OpsPerSecond / withPayload[workload.ArgumentBytes].OpsPerSecond)} of " +
                                    PayloadRpcName(workload.ArgumentBytes));
            }
        }
        if (scale.Count > 0)
            await ScaleBenchmarks.RunAsync(scale, options, (name, ops, seconds, detail) => Add(name, new Measurement(ops, seconds, double.NaN), detail),
                table.WriteNote, ct).ConfigureAwait(false);
        if (orleans.Count > 0) await RunOrleansAsync(orleans, options, Add, results, table, ct).ConfigureAwait(false);
        if (options.CompareTaskEvents) await CompareTaskEventsAsync(options, Add, table, ct).ConfigureAwait(false);
        output.WriteLine($"total {total.Elapsed.TotalSeconds:0.0} s");

        if (options.JsonPath is { } path)
        {
            var report = new MicrobenchmarkReport(Environment.ProcessorCount, RuntimeInformation.OSDescription, Environment.Version.ToString(),
                options.Duration.TotalSeconds, options.Warmup.TotalSeconds, DateTimeOffset.UtcNow, [.. results]);
            await using var file = File.Create(path);
            await JsonSerializer.SerializeAsync(file, report, ReportJsonContext.Default.MicrobenchmarkReport, ct).ConfigureAwait(false);
            output.WriteLine($"results written to {path}");
        }
        return results;
    }

    /// <summary>The Orleans peer's rows, after RaySharp has shut down so the silo does not share the cores with idle
    /// workers; each is followed by how the RaySharp workload it mirrors compares with it, when that ran.</summary>
    private static async Task RunOrleansAsync(List<OrleansWorkload> workloads, MicrobenchmarkOptions options, Func<string, Measurement, string?, MicrobenchmarkResult> add,
        List<MicrobenchmarkResult> results, ResultTable table, CancellationToken ct)
    {
        await using var peer = await OrleansPeer.StartAsync(ct).ConfigureAwait(false);
        foreach (var workload in workloads)
        {
            var call = await workload.Prepare(peer.Client).ConfigureAwait(false);
            var measured = await MeasureAsync(call, workload.OpsPerCall, options, ct).ConfigureAwait(false);
            add(workload.Name, measured, null);
            if (results.Find(r => r.Name == workload.Counterpart) is { } raySharp)
                table.WriteNote($"{workload.Counterpart}: {ResultTable.Ratio(raySharp.OpsPerSecond / measured.OpsPerSecond)} of Orleans");
        }
    }

    /// <summary>The name of the workload whose cost with and without task events is compared.</summary>
    public const string TaskEventsWorkload = "single client tasks async";

    /// <summary>"single client tasks async" on fresh clusters with task events off and on, twice each: each cluster's
    /// processes read <c>RAY_task_events_report_interval_ms</c> when they start, so the variable is set for the driver and
    /// inherited by the workers it starts.</summary>
    private static async Task CompareTaskEventsAsync(MicrobenchmarkOptions options, Func<string, Measurement, string?, MicrobenchmarkResult> add, ResultTable table,
        CancellationToken ct)
    {
        const string variable = "RAY_task_events_report_interval_ms";
        var workload = Workloads.All.Single(w => w.Name == TaskEventsWorkload);
        string? before = Environment.GetEnvironmentVariable(variable);
        double off = 0, on = 0;
        try
        {
            // Twice each, alternating, so a drift of the machine over the run weighs on both alike.
            foreach (var (label, value) in new[] { ("task events off", "0"), ("task events on", before), ("task events off", "0"), ("task events on", before) })
            {
                Environment.SetEnvironmentVariable(variable, value);
                using var ray = Ray.Init(options.RayOptions);
                using var prepared = workload.Prepare();
                var measured = await MeasureAsync(prepared.Call, workload.OpsPerCall, options, ct).ConfigureAwait(false);
                add($"{workload.Name} ({label})", measured, null);
                if (value == "0") off += measured.OpsPerSecond;
                else on += measured.OpsPerSecond;
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, before);
        }
        table.WriteNote($"task events cost {(1 - on / off) * 100:0.0}% of {TaskEventsWorkload} (mean of two runs on vs two off, each on a " +
                        "fresh cluster)");
    }

    private static readonly TimeSpan WarmupWindow = TimeSpan.FromMilliseconds(500);

    /// <summary>Calls <paramref name="call"/> through the warm-up, then counts the calls completed until the
    /// duration has passed (always at least one of each).</summary>
    private static async Task<Measurement> MeasureAsync(Func<ValueTask> call, int opsPerCall, MicrobenchmarkOptions options,
        CancellationToken ct, AllocationProfiler? profiler = null)
    {
        // Leftovers of the previous benchmark (refs awaiting finalization) are not this one's cost.
        GC.Collect();
        GC.WaitForPendingFinalizers();

        // Warm up for the set time, then on until the rate is steady: two successive windows within 10% of each other (the
        // JIT's tiers and the thread pool's size settle at different times for different rows), at most four times longer.
        var clock = Stopwatch.StartNew();
        var window = Stopwatch.StartNew();
        long windowCalls = 0;
        double lastRate = double.NaN;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            await call().ConfigureAwait(false);
            windowCalls++;
            if (clock.Elapsed >= options.Warmup * 5) break;
            if (window.Elapsed < WarmupWindow) continue;
            double rate = windowCalls / window.Elapsed.TotalSeconds;
            bool steady = Math.Abs(rate - lastRate) <= 0.1 * Math.Max(rate, lastRate);
            if (clock.Elapsed >= options.Warmup && steady) break;
            lastRate = rate;
            windowCalls = 0;
            window.Restart();
        }

        long calls = 0;
        profiler?.Start();
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        clock.Restart();
        do
        {
            ct.ThrowIfCancellationRequested();
            await call().ConfigureAwait(false);
            calls++;
        }
        while (clock.Elapsed < options.Duration);
        double seconds = clock.Elapsed.TotalSeconds;
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        return new Measurement(calls * opsPerCall, seconds, (double)allocated / (calls * opsPerCall));
    }

    /// <summary>A measured row: operations, seconds, and the bytes this process allocated per operation meanwhile.</summary>
    private readonly record struct Measurement(long Operations, double Seconds, double AllocatedBytesPerOperation)
    {
        public double OpsPerSecond => Operations / Seconds;
    }

    /// <summary>Writes the table a row at a time, so a long run shows progress.</summary>
    private sealed class ResultTable(TextWriter output)
    {
        // Wide enough for the longest name, "single client put/get with 100,000 live refs".
        private const string Row = "{0,-46} {1,12} {2,11} {3,11} {4,11} {5,9}";

        public void WriteHeader()
        {
            output.WriteLine();
            output.WriteLine(Row, "benchmark", "ops/s", "vs seq RPC", "vs ping-pong", "vs pipe RPC", "B/op");
            output.WriteLine(new string('-', 46 + 1 + 12 + 1 + 11 + 1 + 11 + 1 + 11 + 1 + 9));
        }

        public void Write(MicrobenchmarkResult r)
        {
            var invariant = System.Globalization.CultureInfo.InvariantCulture;
            output.WriteLine(Row, r.Name, r.OpsPerSecond.ToString(r.OpsPerSecond >= 100 ? "N0" : r.OpsPerSecond >= 1 ? "0.0" : "0.000", invariant),
                Ratio(r.RatioToSequentialRpc), Ratio(r.RatioToStreamPingPong), Ratio(r.RatioToPipelinedRpc),
                double.IsNaN(r.AllocatedBytesPerOperation) ? "" : r.AllocatedBytesPerOperation.ToString("N0", invariant));
            if (r.Detail is { } detail) WriteNote(detail);
            output.Flush();
        }

        /// <summary>A line under the last row that reads it another way.</summary>
        public void WriteNote(string note)
        {
            output.WriteLine("  = " + note);
            output.Flush();
        }

        public static string Ratio(double ratio) => double.IsNaN(ratio) ? "" :
            ratio.ToString(ratio >= 10 ? "0.0" : ratio >= 0.1 ? "0.00" : "0.000", System.Globalization.CultureInfo.InvariantCulture) + "x";
    }
}

/// <summary>What <c>--json</c> writes: the machine, the settings and the results.</summary>
internal sealed record MicrobenchmarkReport(
    int ProcessorCount,
    string Os,
    string Runtime,
    double DurationSeconds,
    double WarmupSeconds,
    DateTimeOffset Timestamp,
    MicrobenchmarkResult[] Results);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(MicrobenchmarkReport))]
internal sealed partial class ReportJsonContext : JsonSerializerContext;
