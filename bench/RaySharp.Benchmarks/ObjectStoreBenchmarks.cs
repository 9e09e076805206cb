using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using RaySharp.Core;
using RaySharp.Core.Rpc;
using RaySharp.Testing;

namespace RaySharp.Benchmarks;

/// <summary>
/// The object store's benchmarks (<c>--object-store</c>): bandwidth of puts, gets and transfers between nodes, each as a
/// ratio to a baseline measured in the same run (a single-thread memcpy of the same size, or a raw gRPC stream of the
/// same bytes), and the memory a large object costs the processes that use it.
/// </summary>
internal static class ObjectStoreBenchmarks
{
    private const int MiB = 1024 * 1024;
    private const int ObjectSize = 100 * MiB;

    public static async Task RunAsync(TextWriter output, MicrobenchmarkOptions options, CancellationToken ct)
    {
        var total = Stopwatch.StartNew();
        output.WriteLine($"{Environment.ProcessorCount} cores; {options.Duration.TotalSeconds:0.##} s per benchmark; objects of {ObjectSize / MiB} MiB");
        output.WriteLine();
        output.WriteLine("{0,-52} {1,12} {2,14}", "benchmark", "GB/s", "vs baseline");
        output.WriteLine(new string('-', 80));
        bool Selected(string name) => options.Filter is null || name.Contains(options.Filter, StringComparison.OrdinalIgnoreCase);

        double memcpy = Memcpy(options.Duration);
        Row(output, "memcpy 100 MiB, one thread (baseline)", memcpy, 1);

        using (Ray.Init(options.RayOptions))
        {
            if (Selected("peak"))
            {
                // First, while the driver's peak RSS is still low: a 1 GiB return passed on to another task.
                long before = ProcessMemory.PeakRss(Environment.ProcessId);
                using var made = StoreBench.Remote.Make(1024 * MiB);
                long length = await StoreBench.Remote.Length(made);
                long after = ProcessMemory.PeakRss(Environment.ProcessId);
                output.WriteLine($"{"driver peak RSS growth, 1 GiB return passed on",-52} {Bytes(after - before),12} " +
                    $"{(after - before) / (double)length,13:0.000}x of the object (peak {Bytes(before)} -> {Bytes(after)})");
            }
            if (Selected("put"))
            {
                var data = new byte[ObjectSize];
                Random.Shared.NextBytes(data);
                double put = Measure(options.Duration, ObjectSize, () => Ray.Put(data).Dispose());
                Row(output, "single client put gigabytes", put, put / memcpy);
                double span = Measure(options.Duration, ObjectSize, () => Ray.Put<byte>(data.AsSpan()).Dispose());
                Row(output, "single client put gigabytes (Put(ReadOnlySpan<T>))", span, span / memcpy);
                double multi = MultiClientPut(options.Duration, Math.Max(2, Environment.ProcessorCount));
                Row(output, $"multi client put gigabytes ({Math.Max(2, Environment.ProcessorCount)} tasks)", multi, multi / memcpy);
            }
            if (Selected("get"))
            {
                var data = new byte[ObjectSize];
                Random.Shared.NextBytes(data);
                using var stored = Ray.Put(data);
                double get = Measure(options.Duration, ObjectSize, () => _ = stored.Get());
                Row(output, "single client get gigabytes", get, get / memcpy);
                long sum = 0;
                double view = Measure(options.Duration, ObjectSize, () =>
                {
                    using var v = Ray.GetView(stored);
                    sum += v.Span[^1]; // touch it: the view is real
                });
                output.WriteLine("{0,-52} {1,12} {2,13}", "single client GetView of the same object",
                    $"{ObjectSize / view * 1e6:0} us", $"{memcpy / view:0.0000}x of a memcpy's time");
            }
            if (Selected("memory"))
            {
                output.WriteLine(ReadByMany(200 * MiB, 4, view: false));
                output.WriteLine(ReadByMany(200 * MiB, 4, view: true));
            }
        }
        if (Selected("transfer"))
            foreach (var line in await TransferAsync(options, ct).ConfigureAwait(false)) output.WriteLine(line);
        output.WriteLine($"total {total.Elapsed.TotalSeconds:0.0} s");
    }

    private static void Row(TextWriter output, string name, double bytesPerSecond, double ratio)
    {
        output.WriteLine("{0,-52} {1,12} {2,13}x", name, (bytesPerSecond / 1e9).ToString("0.00", CultureInfo.InvariantCulture),
            ratio.ToString(ratio >= 0.1 ? "0.00" : "0.000", CultureInfo.InvariantCulture));
        output.Flush();
    }

    private static string Bytes(long n) => n >= 10L * MiB ? $"{n / (double)MiB:0} MiB" : $"{n / 1024.0:0} KiB";

    /// <summary>Calls <paramref name="op"/> (moving <paramref name="bytes"/> each time) for at least the duration (and
    /// three times); returns bytes per second.</summary>
    private static double Measure(TimeSpan duration, long bytes, Action op)
    {
        op(); // warm-up: the first call maps new memory and jits
        var clock = Stopwatch.StartNew();
        long n = 0;
        do
        {
            op();
            n++;
        }
        while (clock.Elapsed < duration || n < 3);
        return n * (double)bytes / clock.Elapsed.TotalSeconds;
    }

    /// <summary>Single-thread copies of 100 MiB between two arrays already touched.</summary>
    private static double Memcpy(TimeSpan duration)
    {
        var from = new byte[ObjectSize];
        var to = new byte[ObjectSize];
        Random.Shared.NextBytes(from);
        return Measure(duration, ObjectSize, () => from.AsSpan().CopyTo(to));
    }

    /// <summary>Several tasks putting 100 MiB objects at once, on the embedded node's store.</summary>
    private static double MultiClientPut(TimeSpan duration, int clients)
    {
        int perTask = 4;
        var warm = Ray.Get(Enumerable.Range(0, clients).Select(_ => StoreBench.Remote.PutMany(1, ObjectSize)).ToList());
        var clock = Stopwatch.StartNew();
        long bytes = 0;
        do
        {
            var done = Ray.Get(Enumerable.Range(0, clients).Select(_ => StoreBench.Remote.PutMany(perTask, ObjectSize)).ToList());
            bytes += done.Sum();
        }
        while (clock.Elapsed < duration);
        GC.KeepAlive(warm);
        return bytes / clock.Elapsed.TotalSeconds;
    }

    /// <summary>One object of <paramref name="size"/> bytes put by the driver and read by <paramref name="readers"/> tasks
    /// at once on this node: how much the PSS (shared pages split between their users) of the driver and the workers
    /// grows from before the put to while every reader holds the value, and the RSS sum at that moment.</summary>
    private static string ReadByMany(int size, int readers, bool view)
    {
        // Fresh workers (a runtime env of their own, so no earlier benchmark's garbage is counted), started and
        // measured before the object exists.
        var fresh = new TaskOptions { NumCpus = 0, RuntimeEnv = new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["BENCH_READERS"] = view ? "view" : "array" } } };
        var warmGate = Gate.Remote.Create();
        var warm = Enumerable.Range(0, readers).Select(_ => StoreBench.Remote.WithOptions(fresh).Wait(warmGate)).ToList();
        while (warmGate.Arrived().Get() < readers) Thread.Sleep(10); // the workers report in; nothing to await across processes
        var workerPids = warmGate.Pids().Get();
        GC.Collect();
        long before = ProcessMemory.Pss(Environment.ProcessId) + workerPids.Sum(ProcessMemory.Pss);
        warmGate.Open().Get();
        Ray.Get(warm);
        Ray.Kill(warmGate);

        var data = new byte[size];
        Random.Shared.NextBytes(data);
        using var obj = Ray.Put<byte>(data.AsSpan());
        data = null;
        GC.Collect();
        var gate = Gate.Remote.Create();
        var reads = Enumerable.Range(0, readers).Select(_ => view
            ? StoreBench.Remote.WithOptions(fresh).ViewAndWait(obj, gate)
            : StoreBench.Remote.WithOptions(fresh).ReadAndWait(obj, gate)).ToList();
        while (gate.Arrived().Get() < readers) Thread.Sleep(10);
        var pids = gate.Pids().Get();
        var all = workerPids.Union(pids).ToArray();
        long rss = ProcessMemory.Rss(Environment.ProcessId) + pids.Sum(ProcessMemory.Rss);
        long after = ProcessMemory.Pss(Environment.ProcessId) + all.Where(p => File.Exists($"/proc/{p}/status")).Sum(ProcessMemory.Pss);
        gate.Open().Get();
        Ray.Get(reads);
        Ray.Kill(gate);
        string how = view ? "ObjectView<byte> parameter" : "byte[] parameter";
        return $"{$"{size / MiB} MiB object read by {readers} tasks ({how})",-52} PSS grew {Bytes(after - before)} = " +
               $"{(after - before) / (double)size:0.00}x the object (driver + {all.Length} workers; RSS sum {Bytes(rss)})";
    }

    /// <summary>A 1 GiB object pulled from another node of a <see cref="TestCluster"/>, against a raw gRPC stream of
    /// the same bytes in the same chunks over TCP loopback through the same stack.</summary>
    private static async Task<List<string>> TransferAsync(MicrobenchmarkOptions options, CancellationToken ct)
    {
        const long size = 1024L * MiB;
        List<string> lines = [];
        double raw = await RawStreamAsync(size, RayConfig.Default.ObjectManagerChunkSize, ct).ConfigureAwait(false);
        using var cluster = TestCluster.Start(new TestClusterOptions { HeadNumCpus = 1 });
        var other = cluster.AddNode(numCpus: 1, resources: new Dictionary<string, double> { ["far"] = 1 }, objectStoreMemory: 3L * 1024 * MiB);
        cluster.WaitForNodes(2, TimeSpan.FromSeconds(30));
        using (Ray.Init(new RayOptions { Address = cluster.Address }))
        {
            var worker = CoreWorker.Current;
            var far = new TaskOptions { NumCpus = 0, Resources = new Dictionary<string, double> { ["far"] = 0.01 } };
            double seconds = 0;
            int rounds = 0;
            var clock = Stopwatch.StartNew();
            while (rounds < 3 || clock.Elapsed < options.Duration)
            {
                using var made = StoreBench.Remote.WithOptions(far).Make((int)size);
                await Ray.WaitAsync([made], timeout: TimeSpan.FromMinutes(5), fetchLocal: false, ct: ct); // made there, not pulled here yet
                var pull = Stopwatch.StartNew();
                var mapping = await worker.ObjectStore!.GetAsync(made.Id, other.NodeId, ct).ConfigureAwait(false)
                    ?? throw new InvalidOperationException("the object was not found on the other node");
                seconds += pull.Elapsed.TotalSeconds;
                mapping.Close();
                worker.ObjectStore.Release(made.Id);
                rounds++;
            }
            double pulled = rounds * (double)(size + 5) / seconds;
            lines.Add(string.Format(CultureInfo.InvariantCulture, "{0,-52} {1,12:0.00} {2,13:0.00}x", "raw gRPC stream of 1 GiB, 5 MiB chunks (baseline)",
                raw / 1e9, 1.0));
            lines.Add(string.Format(CultureInfo.InvariantCulture, "{0,-52} {1,12:0.00} {2,13:0.00}x", "inter-node transfer of 1 GiB (pull)",
                pulled / 1e9, pulled / raw));
        }
        return lines;
    }

    private static async Task<double> RawStreamAsync(long size, int chunk, CancellationToken ct)
    {
        var config = RayConfig.Default with { AuthToken = ClusterToken.Generate() };
        await using var server = await RpcServer.StartAsync("127.0.0.1", 0, null, [new EchoService()], config, ct: ct).ConfigureAwait(false);
        var invoker = RpcChannels.Invoker(server.Endpoint, config);
        double seconds = 0;
        for (int round = 0; round < 4; round++)
        {
            var clock = Stopwatch.StartNew();
            using var call = invoker.AsyncServerStreamingCall(EchoService.ChunksMethod, null, new CallOptions(cancellationToken: ct),
                new ChunksRequest(size, chunk));
            long received = 0;
            while (await call.ResponseStream.MoveNext(ct).ConfigureAwait(false)) received += call.ResponseStream.Current.Payload.Length;
            if (received != size) throw new InvalidOperationException($"the raw stream sent {received} of {size} bytes");
            if (round > 0) seconds += clock.Elapsed.TotalSeconds; // the first round warms up
        }
        return 3 * (double)size / seconds;
    }
}

/// <summary>RSS, peak RSS and PSS of a process, from /proc.</summary>
internal static class ProcessMemory
{
    public static long Rss(int pid) => StatusField(pid, "VmRSS:");

    public static long PeakRss(int pid) => StatusField(pid, "VmHWM:");

    /// <summary>Proportional set size: each shared page counted once in all, split between the processes mapping it.</summary>
    public static long Pss(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/smaps_rollup"))
            if (line.StartsWith("Pss:", StringComparison.Ordinal)) return Kib(line);
        return 0;
    }

    private static long StatusField(int pid, string field)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith(field, StringComparison.Ordinal)) return Kib(line);
        return 0;
    }

    private static long Kib(string line) =>
        long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
}

internal static partial class StoreBench
{
    [RayRemote]
    public static byte[] Make(int size) => new byte[size];

    [RayRemote]
    public static long Length(byte[] data) => data.LongLength;

    /// <summary>Puts <paramref name="count"/> objects of <paramref name="size"/> bytes, releasing each; returns the bytes put.</summary>
    [RayRemote]
    public static long PutMany(int count, int size)
    {
        var data = new byte[size];
        for (int i = 0; i < count; i++) Ray.Put(data).Dispose();
        return (long)count * size;
    }

    /// <summary>Reports to the gate and waits until it opens (starts a worker and keeps it busy).</summary>
    [RayRemote]
    public static int Wait(ActorHandle<Gate> gate)
    {
        gate.Arrive(Environment.ProcessId).Get();
        var open = gate.WaitOpen();
        while (Ray.Wait([open], timeout: TimeSpan.Zero).Ready.Count == 0) Thread.Sleep(5);
        return Environment.ProcessId;
    }

    /// <summary>Views the object (no copy), reports to the gate and holds the view until the gate opens.</summary>
    [RayRemote]
    public static long ViewAndWait(ObjectView<byte> data, ActorHandle<Gate> gate)
    {
        long sum = 0;
        foreach (byte b in data.Span) sum += b; // read every page
        gate.Arrive(Environment.ProcessId).Get();
        var open = gate.WaitOpen();
        while (Ray.Wait([open], timeout: TimeSpan.Zero).Ready.Count == 0) Thread.Sleep(5);
        return data.Length + (sum & 0);
    }

    /// <summary>Reads the object, reports to the gate and holds the value until the gate opens.</summary>
    [RayRemote]
    public static long ReadAndWait(byte[] data, ActorHandle<Gate> gate)
    {
        gate.Arrive(Environment.ProcessId).Get();
        var open = gate.WaitOpen();
        while (Ray.Wait([open], timeout: TimeSpan.Zero).Ready.Count == 0) Thread.Sleep(5);
        return data.LongLength;
    }
}

/// <summary>Counts the readers that arrived, and lets them go together.</summary>
[RayRemote]
internal partial class Gate
{
    private readonly List<int> _pids = [];
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Its async method makes it an async actor, whose calls may run at once.
    private readonly Lock _lock = new();

    public int Arrive(int pid)
    {
        lock (_lock)
        {
            _pids.Add(pid);
            return _pids.Count;
        }
    }

    public int Arrived()
    {
        lock (_lock) return _pids.Count;
    }

    public int[] Pids()
    {
        lock (_lock) return [.. _pids];
    }

    public bool Open()
    {
        _open.TrySetResult();
        return true;
    }

    public async Task<bool> WaitOpen()
    {
        await _open.Task.ConfigureAwait(false);
        return true;
    }
}
