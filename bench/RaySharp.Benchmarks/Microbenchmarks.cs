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

        Measurement sequential, pingPong, pipelined;
        await using (var rpc = await RawRpcBaseline.StartAsync(ct).ConfigureAwait(false))
        {
            sequential = await MeasureAsync(rpc.UnaryAsync, 1, options, ct).ConfigureAwait(false);
            pingPong = await MeasureAsync(() => rpc.StreamPingPongAsync(ct), 1, options, ct).ConfigureAwait(false);
            pipelined = await MeasureAsync(() => rpc.StreamBatchAsync(Workloads.Batch, ct), Workloads.Batch, options, ct)
                .ConfigureAwait(false);
        }
        void Add(string name, Measurement m)
        {
            var result = new MicrobenchmarkResult(name, m.Operations, m.Seconds, m.OpsPerSecond,
                m.OpsPerSecond / sequential.OpsPerSecond, m.OpsPerSecond / pipelined.OpsPerSecond);
            results.Add(result);
            table.Write(result);
        }
        table.WriteHeader();
        Add(SequentialRpcName, sequential);
        Add(StreamPingPongName, pingPong);
        Add(PipelinedRpcName, pipelined);

        bool Matches(string name) => options.Filter is null || name.Contains(options.Filter, StringComparison.OrdinalIgnoreCase);
        var orleans = options.Orleans == OrleansPeerRows.Off ? []
            : OrleansWorkloads.All.Where(w => Matches(w.Name) || Matches(w.Counterpart)).ToList();
        var selected = Workloads.All.Where(w => Matches(w.Name) &&
                                                (options.Orleans != OrleansPeerRows.Only || orleans.Any(o => o.Counterpart == w.Name))).ToList();
        if (selected.Count > 0)
        {
            using var ray = Ray.Init(options.RayOptions);
            foreach (var workload in selected)
            {
                using var prepared = workload.Prepare();
                var measured = await MeasureAsync(prepared.Call, workload.OpsPerCall, options, ct).ConfigureAwait(false);
                Add(workload.Name, measured);
                if (workload.InRoundTrips)
                    table.WriteNote($"one operation costs {sequential.OpsPerSecond / measured.OpsPerSecond:0.0} sequential round trips " +
                                    $"({1e6 / measured.OpsPerSecond:N0} us)");
            }
        }
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
    private static async Task RunOrleansAsync(List<OrleansWorkload> workloads, MicrobenchmarkOptions options, Action<string, Measurement> add,
        List<MicrobenchmarkResult> results, ResultTable table, CancellationToken ct)
    {
        await using var peer = await OrleansPeer.StartAsync(ct).ConfigureAwait(false);
        foreach (var workload in workloads)
        {
            var call = await workload.Prepare(peer.Client).ConfigureAwait(false);
            var measured = await MeasureAsync(call, workload.OpsPerCall, options, ct).ConfigureAwait(false);
            add(workload.Name, measured);
            if (results.Find(r => r.Name == workload.Counterpart) is { } raySharp)
                table.WriteNote($"{workload.Counterpart}: {ResultTable.Ratio(raySharp.OpsPerSecond / measured.OpsPerSecond)} of Orleans");
        }
    }

    /// <summary>The name of the workload whose cost with and without task events is compared.</summary>
    public const string TaskEventsWorkload = "single client tasks async";

    /// <summary>"single client tasks async" on fresh clusters with task events off and on, twice each: each cluster's
    /// processes read <c>RAY_task_events_report_interval_ms</c> when they start, so the variable is set for the driver and
    /// inherited by the workers it starts.</summary>
    private static async Task CompareTaskEventsAsync(MicrobenchmarkOptions options, Action<string, Measurement> add, ResultTable table,
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
                add($"{workload.Name} ({label})", measured);
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

    /// <summary>Calls <paramref name="call"/> through the warm-up, then counts the calls completed until the
    /// duration has passed (always at least one of each).</summary>
    private static async Task<Measurement> MeasureAsync(Func<ValueTask> call, int opsPerCall, MicrobenchmarkOptions options,
        CancellationToken ct)
    {
        // Leftovers of the previous benchmark (refs awaiting finalization) are not this one's cost.
        GC.Collect();
        GC.WaitForPendingFinalizers();

        var clock = Stopwatch.StartNew();
        do
        {
            ct.ThrowIfCancellationRequested();
            await call().ConfigureAwait(false);
        }
        while (clock.Elapsed < options.Warmup);

        long calls = 0;
        clock.Restart();
        do
        {
            ct.ThrowIfCancellationRequested();
            await call().ConfigureAwait(false);
            calls++;
        }
        while (clock.Elapsed < options.Duration);
        double seconds = clock.Elapsed.TotalSeconds;
        return new Measurement(calls * opsPerCall, seconds);
    }

    private readonly record struct Measurement(long Operations, double Seconds)
    {
        public double OpsPerSecond => Operations / Seconds;
    }

    /// <summary>Writes the table a row at a time, so a long run shows progress.</summary>
    private sealed class ResultTable(TextWriter output)
    {
        // Wide enough for the longest name, "single client put/get with 100,000 live refs".
        private const string Row = "{0,-46} {1,14} {2,12} {3,12}";

        public void WriteHeader()
        {
            output.WriteLine();
            output.WriteLine(Row, "benchmark", "ops/s", "vs seq RPC", "vs pipe RPC");
            output.WriteLine(new string('-', 46 + 1 + 14 + 1 + 12 + 1 + 12));
        }

        public void Write(MicrobenchmarkResult r)
        {
            output.WriteLine(Row, r.Name, r.OpsPerSecond.ToString("N0", System.Globalization.CultureInfo.InvariantCulture),
                Ratio(r.RatioToSequentialRpc), Ratio(r.RatioToPipelinedRpc));
            output.Flush();
        }

        /// <summary>A line under the last row that reads it another way.</summary>
        public void WriteNote(string note)
        {
            output.WriteLine("  = " + note);
            output.Flush();
        }

        public static string Ratio(double ratio) =>
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

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(MicrobenchmarkReport))]
internal sealed partial class ReportJsonContext : JsonSerializerContext;
