using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using Grpc.Core;
using Grpc.Net.Client;
using MemoryPack;
using RaySharp.Core.Rpc;

namespace RaySharp.Integration.Fuzz;

/// <summary>One method of a service as the fuzzer calls it: raw bytes in, raw bytes out.</summary>
/// <param name="WellFormedIsAnOrder">A well-formed request is a legitimate order from a cluster peer (exit, register a
/// node, create an actor): only requests that do not decode as one are sent, so the fuzz does not take the cluster
/// down by asking politely.</param>
internal sealed record FuzzMethod(string Service, string Name, MethodType Type, Type RequestType, bool WellFormedIsAnOrder);

/// <summary>What the calls of one method got back.</summary>
internal sealed class MethodOutcome
{
    public ConcurrentDictionary<StatusCode, int> Codes { get; } = new();
    public ConcurrentQueue<string> HandlerErrors { get; } = new();
    public int Sent;
    public int Withheld;
}

/// <summary>
/// Sends seeded malformed messages to one service of a running process with raw gRPC calls (a byte[] marshaller, so
/// the bytes arrive exactly as made): random bytes, valid messages with one member made malformed (missing, huge,
/// out of range), and valid messages with their bytes mutated (bits flipped, a length or count overwritten, cut
/// short, bytes inserted or removed). Each message is made from its own seed (the run's seed and its index), so a
/// run is the same whatever the concurrency, and a failure names the index that reproduces it.
/// </summary>
internal sealed class WireFuzzer(string endpoint, string? tokenHeader)
{
    private static readonly Marshaller<byte[]> s_bytes = Marshallers.Create(b => b, b => b);

    /// <summary>The methods of a service, as its BindService declares them.</summary>
    public static List<FuzzMethod> MethodsOf(string service, Action<ServiceBinderBase> bind, params string[] orders)
    {
        var collector = new Collector(service, orders);
        bind(collector);
        return collector.Methods;
    }

    public ConcurrentDictionary<string, MethodOutcome> Outcomes { get; } = new();

    /// <summary>Sends <paramref name="count"/> messages, spread over <paramref name="methods"/>, <paramref name="concurrency"/> at a time.</summary>
    public async Task RunAsync(IReadOnlyList<FuzzMethod> methods, int count, int seed, int concurrency, CancellationToken ct,
        Func<int, FuzzMethod, (byte[], string)>? make = null)
    {
        using var channel = GrpcChannel.ForAddress("http://" + endpoint, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true, ConnectTimeout = TimeSpan.FromSeconds(10) },
            MaxReceiveMessageSize = null,
            MaxSendMessageSize = null,
        });
        var invoker = channel.CreateCallInvoker();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = ct },
            async (index, token) =>
            {
                var method = methods[index % methods.Count];
                var outcome = Outcomes.GetOrAdd(method.Name, _ => new MethodOutcome());
                var (payload, how) = make?.Invoke(index, method) ?? Make(method, seed, index);
                if (method.WellFormedIsAnOrder && Decodes(method.RequestType, payload))
                {
                    Interlocked.Increment(ref outcome.Withheld);
                    return;
                }
                Interlocked.Increment(ref outcome.Sent);
                var status = await CallAsync(invoker, method, payload, token).ConfigureAwait(false);
                outcome.Codes.AddOrUpdate(status.StatusCode, 1, (_, n) => n + 1);
                if (IsHandlerError(status) && outcome.HandlerErrors.Count < 20)
                    outcome.HandlerErrors.Enqueue($"#{index} ({how}, {payload.Length} bytes): {status.StatusCode} {Shorten(status.Detail)}");
            }).ConfigureAwait(false);
    }

    /// <summary>An exception escaped the handler (gRPC answers Unknown "Exception was thrown by handler"), or the server
    /// failed otherwise (Internal).</summary>
    public static bool IsHandlerError(Status status) => status.StatusCode is StatusCode.Unknown or StatusCode.Internal;

    private static string Shorten(string s) => s.Length > 400 ? s[..400] + "…" : s;

    /// <summary>Message <paramref name="index"/> of a run with <paramref name="seed"/>, and how it was made.</summary>
    public static (byte[] Payload, string How) Make(FuzzMethod method, int seed, int index)
    {
        // Not HashCode.Combine: its seed differs in every process, and a failing index must reproduce.
        int nameHash = method.Name.Aggregate(17, (h, c) => unchecked(h * 31 + c));
        var random = new Random(unchecked(seed * 1_000_003 + index * 7919 + nameHash));
        var values = new WireValues(random);
        int roll = random.Next(100);
        if (roll < 20)
            return (values.Bytes(random.Next(8) == 0 ? random.Next(64, 4096) : random.Next(0, 64)), "random bytes");
        var message = values.Generate(method.RequestType);
        if (roll < 60)
        {
            var changed = new List<string>();
            for (int i = random.Next(1, 3); i > 0; i--)
                if (values.Mutate(message) is { } what) changed.Add(what);
            var payload = MemoryPackSerializer.Serialize(method.RequestType, message);
            return (payload, $"malformed {string.Join(", ", changed)}");
        }
        var bytes = MemoryPackSerializer.Serialize(method.RequestType, message);
        return MutateBytes(bytes, random);
    }

    private static (byte[], string) MutateBytes(byte[] bytes, Random random)
    {
        var list = new List<byte>(bytes);
        string how;
        switch (random.Next(7))
        {
            case 0:
                how = "bits flipped";
                for (int i = random.Next(1, 9); i > 0 && list.Count > 0; i--) list[random.Next(list.Count)] ^= (byte)(1 << random.Next(8));
                break;
            case 1:
                how = "a length or count overwritten";
                if (list.Count >= 4)
                {
                    int at = random.Next(list.Count - 3);
                    int[] values = [int.MaxValue, int.MinValue, -2, 0x7FFF_FFF0, 1 << 24, 65_536, list.Count, -list.Count];
                    var four = BitConverter.GetBytes(values[random.Next(values.Length)]);
                    for (int i = 0; i < 4; i++) list[at + i] = four[i];
                }
                break;
            case 2:
                how = "cut short";
                list = list.Take(random.Next(list.Count)).ToList();
                break;
            case 3:
                how = "bytes inserted";
                var extra = new byte[random.Next(1, 16)];
                random.NextBytes(extra);
                list.InsertRange(random.Next(list.Count + 1), extra);
                break;
            case 4:
                how = "bytes removed";
                if (list.Count > 1)
                {
                    int at = random.Next(list.Count);
                    list.RemoveRange(at, Math.Min(list.Count - at, random.Next(1, 8)));
                }
                break;
            case 5:
                how = "a null or zero marker written";
                for (int i = random.Next(1, 3); i > 0 && list.Count > 0; i--) list[random.Next(list.Count)] = random.Next(2) == 0 ? (byte)0xFF : (byte)0;
                break;
            default:
                how = "garbage appended";
                var tail = new byte[random.Next(1, 64)];
                random.NextBytes(tail);
                list.AddRange(tail);
                break;
        }
        return ([.. list], how);
    }

    /// <summary>Whether the receiving process would read <paramref name="payload"/> as a well-formed request (the same
    /// decoding and shape check its marshaller runs).</summary>
    private static bool Decodes(Type type, byte[] payload)
    {
        try
        {
            s_decode.MakeGenericMethod(type).Invoke(null, [new ReadOnlySequence<byte>(payload)]);
            return true;
        }
        catch (TargetInvocationException e) when (e.InnerException is RpcException)
        {
            return false;
        }
    }

    private static readonly MethodInfo s_decode = typeof(RpcMarshaller).GetMethod(nameof(RpcMarshaller.Decode))!;

    private async Task<Status> CallAsync(CallInvoker invoker, FuzzMethod m, byte[] payload, CancellationToken ct)
    {
        var method = new Method<byte[], byte[]>(m.Type, m.Service, m.Name, s_bytes, s_bytes);
        var headers = new Metadata();
        if (tokenHeader is not null) headers.Add(ClusterAuthenticator.HeaderName, tokenHeader);
        // Long polls and subscriptions are cut short: the fuzz is about what a handler does with what it reads.
        var deadline = DateTime.UtcNow + (m.Type == MethodType.Unary ? TimeSpan.FromSeconds(3) : TimeSpan.FromMilliseconds(500));
        var options = new CallOptions(headers, deadline, ct);
        try
        {
            switch (m.Type)
            {
                case MethodType.Unary:
                    await invoker.AsyncUnaryCall(method, null, options, payload).ResponseAsync.ConfigureAwait(false);
                    return Status.DefaultSuccess;
                case MethodType.ServerStreaming:
                {
                    using var call = invoker.AsyncServerStreamingCall(method, null, options, payload);
                    for (int i = 0; i < 4 && await call.ResponseStream.MoveNext(ct).ConfigureAwait(false); i++)
                    {
                    }
                    return Status.DefaultSuccess;
                }
                default:
                {
                    using var call = invoker.AsyncDuplexStreamingCall(method, null, options);
                    try
                    {
                        await call.RequestStream.WriteAsync(payload, ct).ConfigureAwait(false);
                        await call.RequestStream.CompleteAsync().ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is InvalidOperationException or IOException)
                    {
                        // The server ended the call before reading it all: its status says why.
                    }
                    while (await call.ResponseStream.MoveNext(ct).ConfigureAwait(false))
                    {
                    }
                    return Status.DefaultSuccess;
                }
            }
        }
        catch (RpcException e)
        {
            return e.Status;
        }
    }

    private sealed class Collector(string service, string[] orders) : ServiceBinderBase
    {
        public List<FuzzMethod> Methods { get; } = [];

        private void Add<TRequest>(IMethod method) =>
            Methods.Add(new FuzzMethod(service, method.Name, method.Type, typeof(TRequest), orders.Contains(method.Name)));

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler) =>
            Add<TRequest>(method);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) =>
            Add<TRequest>(method);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler) =>
            Add<TRequest>(method);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler) =>
            Add<TRequest>(method);
    }
}

/// <summary>A process's resident memory from <c>/proc/&lt;pid&gt;/status</c>.</summary>
internal static class ProcessMemory
{
    /// <summary>Current and peak resident set size in bytes (VmRSS, VmHWM); zero where /proc is not there.</summary>
    public static (long Rss, long Peak) Of(int pid)
    {
        string path = $"/proc/{pid}/status";
        if (!File.Exists(path)) return (0, 0);
        long rss = 0, peak = 0;
        foreach (var line in File.ReadLines(path))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kb(line);
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) peak = Kb(line);
        }
        return (rss, peak);
    }

    private static long Kb(string line) =>
        long.Parse(line.Split(':', 2)[1].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;

    public static bool IsAlive(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
