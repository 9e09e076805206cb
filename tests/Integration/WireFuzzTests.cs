using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using RaySharp.Core;
using RaySharp.Core.Gcs;
using RaySharp.Core.Raylet;
using RaySharp.Core.Rpc;
using RaySharp.Integration.Driver;
using RaySharp.Integration.Fuzz;
using RaySharp.Testing;
using Xunit;
using Xunit.Abstractions;

namespace RaySharp.Integration;

/// <summary>
/// Malformed messages from an authenticated peer, to every method of the GCS, a raylet and a worker of a real cluster:
/// each is answered with an error (never an exception escaping a handler), every process survives and still runs a
/// task and an actor call, and memory stays bounded. The suite sends <see cref="DefaultCount"/> messages per
/// service; <c>RAYSHARP_FUZZ_MESSAGES=10000</c> runs the long fuzz, <c>RAYSHARP_FUZZ_SEED</c> another seed
/// (docs/security.md).
/// </summary>
public sealed class WireFuzzTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private const int DefaultCount = 1500;
    private const int DefaultSeed = 20261205;
    private const long MaxGrowthBytes = 200L * 1024 * 1024;

    private static int FromEnvironment(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v > 0 ? v : fallback;

    [Fact]
    public async Task Malformed_messages_to_every_service_are_refused_and_every_process_survives_with_bounded_memory()
    {
        int count = FromEnvironment("RAYSHARP_FUZZ_MESSAGES", DefaultCount);
        int seed = FromEnvironment("RAYSHARP_FUZZ_SEED", DefaultSeed);
        using var cluster = TestCluster.Start();
        using var ray = Ray.Init(new RayOptions { Address = cluster.Address });
        var keeper = Keeper.Remote.Create();
        int workerPid = await keeper.ProcessId().AsTask().WaitAsync(Timeout);
        Assert.Equal(1, await keeper.Increment().AsTask().WaitAsync(Timeout));
        var worker = new GcsClient(cluster.Address, cluster.Config).GetAllActors().Single(a => a.Worker is not null).Worker!;

        // Well-formed, these are orders a peer may give (stop, register a node or job, create an actor or group, release
        // a GCS incarnation's workers, run or force-cancel a task): the fuzz sends them only malformed.
        var targets = new (string Name, string Endpoint, int Pid, List<FuzzMethod> Methods)[]
        {
            ("GCS", cluster.Address, cluster.Head.ProcessId, WireFuzzer.MethodsOf(GcsService.Name, b => GcsService.BindService(b, null),
                nameof(GcsService.RegisterNode), nameof(GcsService.AddJob), nameof(GcsService.RegisterActor), nameof(GcsService.CreateActor),
                nameof(GcsService.CreatePlacementGroup))),
            ("raylet", cluster.Head.RayletEndpoint, cluster.Head.ProcessId, WireFuzzer.MethodsOf(NodeManagerService.Name,
                b => NodeManagerService.BindService(b, null), nameof(NodeManagerService.ReleaseUnusedActorWorkers))),
            ("worker", worker.Endpoint, workerPid, WireFuzzer.MethodsOf(CoreWorkerService.Name, b => CoreWorkerService.BindService(b, null),
                nameof(CoreWorkerService.Exit), nameof(CoreWorkerService.PushTasks), nameof(CoreWorkerService.CancelTask))),
        };
        int[] pids = [.. targets.Select(t => t.Pid).Distinct()];
        var start = pids.ToDictionary(p => p, p => ProcessMemory.Of(p).Rss);
        var failures = new List<string>();

        // A first, shorter round (another seed) grows each process to its working size under this load (the GC's
        // budgets, Kestrel's and gRPC's buffer pools); what the main round adds on top of that is what it kept.
        foreach (var (name, endpoint, pid, methods) in targets)
        {
            var warmUp = new WireFuzzer(endpoint, cluster.Config.AuthToken!.Header);
            await warmUp.RunAsync(methods, Math.Max(count / 5, methods.Count), seed ^ 0x5A5A, concurrency: 64, CancellationToken.None);
            failures.AddRange(warmUp.Outcomes.SelectMany(o => o.Value.HandlerErrors.Select(e => $"{name}.{o.Key} (first round) {e}")));
        }
        var before = pids.ToDictionary(p => p, p => ProcessMemory.Of(p).Rss);

        foreach (var (name, endpoint, pid, methods) in targets)
        {
            var fuzzer = new WireFuzzer(endpoint, cluster.Config.AuthToken!.Header);
            var watch = Stopwatch.StartNew();
            await fuzzer.RunAsync(methods, count, seed, concurrency: 64, CancellationToken.None);
            watch.Stop();
            int sent = fuzzer.Outcomes.Values.Sum(o => o.Sent), withheld = fuzzer.Outcomes.Values.Sum(o => o.Withheld);
            output.WriteLine($"{name} ({endpoint}, pid {pid}): {sent} sent, {withheld} well-formed orders withheld, {watch.Elapsed.TotalSeconds:0.0} s, " +
                $"RSS {ProcessMemory.Of(pid).Rss / 1048576} MB");
            foreach (var (method, outcome) in fuzzer.Outcomes.OrderBy(o => o.Key, StringComparer.Ordinal))
            {
                output.WriteLine($"  {method}: {outcome.Sent} sent; " + string.Join(", ", outcome.Codes.OrderBy(c => c.Key).Select(c => $"{c.Key} {c.Value}")));
                foreach (var error in outcome.HandlerErrors) failures.Add($"{name}.{method} {error}");
            }
            Assert.True(ProcessMemory.IsAlive(pid), $"The {name} process (pid {pid}) died during the fuzz.");

            // Without the token, the same malformed messages are refused before anything reads them.
            var stranger = new WireFuzzer(endpoint, tokenHeader: null);
            await stranger.RunAsync(methods, methods.Count * 2, seed + 1, concurrency: 8, CancellationToken.None);
            var notRefused = stranger.Outcomes.Where(o => o.Value.Codes.Keys.Any(c => c != StatusCode.Unauthenticated)).Select(o => o.Key).ToList();
            Assert.True(notRefused.Count == 0, $"{name}: calls without the token were not refused: {string.Join(", ", notRefused)}");
        }

        // Every process still serves real work: a task, and a call on the actor whose worker was fuzzed (the same process).
        Assert.Equal(7, await Probe.Remote.Leaf(7).AsTask().WaitAsync(Timeout));
        Assert.Equal(2, await keeper.Increment().AsTask().WaitAsync(Timeout));
        Assert.Equal(workerPid, await keeper.ProcessId().AsTask().WaitAsync(Timeout));
        foreach (int pid in pids)
        {
            var (rss, peak) = ProcessMemory.Of(pid);
            output.WriteLine($"pid {pid}: RSS {start[pid] / 1048576} MB at the start, {before[pid] / 1048576} MB after the first round, " +
                $"{rss / 1048576} MB after the main round, peak {peak / 1048576} MB");
            if (rss - before[pid] >= MaxGrowthBytes)
                failures.Add($"pid {pid} grew from {before[pid] / 1048576} MB to {rss / 1048576} MB during the main round (at most {MaxGrowthBytes / 1048576} MB allowed).");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} failures:\n{string.Join("\n", failures)}");
    }
}
