using System.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;
using RaySharp.Core.Stats;

namespace RaySharp.Core.Rpc;

/// <summary>
/// Counts and times every RPC of a process (<c>raysharp.rpc.calls</c>, <c>raysharp.rpc.latency</c>), tagged with the
/// method's full name, the side (client or server) and the status code: one interceptor on every server
/// (<see cref="RpcServer"/>) and on every client invoker (<see cref="RpcChannels.Invoker"/>). Unary calls are timed;
/// streams, which live as long as a connection, are counted when they end. With no listener it only checks the
/// instruments' <c>Enabled</c> flags.
/// </summary>
internal sealed class RpcMetricsInterceptor : Interceptor
{
    public static readonly RpcMetricsInterceptor Instance = new();

    private const string Client = "client", Server = "server";

    private static bool Enabled => RayMetrics.RpcCalls.Enabled || RayMetrics.RpcLatency.Enabled;

    // ---- Client side ----

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(TRequest request, ClientInterceptorContext<TRequest, TResponse> context,
        BlockingUnaryCallContinuation<TRequest, TResponse> continuation)
    {
        if (!Enabled) return continuation(request, context);
        long start = Stopwatch.GetTimestamp();
        var code = StatusCode.OK;
        try
        {
            return continuation(request, context);
        }
        catch (RpcException e)
        {
            code = e.StatusCode;
            throw;
        }
        finally
        {
            Record(context.Method.FullName, Client, code, start);
        }
    }

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(TRequest request, ClientInterceptorContext<TRequest, TResponse> context,
        AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
    {
        if (!Enabled) return continuation(request, context);
        long start = Stopwatch.GetTimestamp();
        var call = continuation(request, context);
        return new AsyncUnaryCall<TResponse>(Observe(call.ResponseAsync, context.Method.FullName, start), call.ResponseHeadersAsync,
            call.GetStatus, call.GetTrailers, call.Dispose);
    }

    private static async Task<TResponse> Observe<TResponse>(Task<TResponse> response, string method, long start)
    {
        var code = StatusCode.OK;
        try
        {
            return await response.ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            code = e.StatusCode;
            throw;
        }
        finally
        {
            Record(method, Client, code, start);
        }
    }

    // ---- Server side ----

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation) =>
        Enabled ? TimedAsync(request, context, continuation) : continuation(request, context);

    private static async Task<TResponse> TimedAsync<TRequest, TResponse>(TRequest request, ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation) where TRequest : class where TResponse : class
    {
        long start = Stopwatch.GetTimestamp();
        var code = StatusCode.OK;
        try
        {
            return await continuation(request, context).ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            code = e.StatusCode;
            throw;
        }
        catch (Exception)
        {
            code = StatusCode.Unknown;
            throw;
        }
        finally
        {
            Record(context.Method, Server, code, start);
        }
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation) =>
        Enabled ? CountedAsync(continuation(request, responseStream, context), context.Method) : continuation(request, responseStream, context);

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream,
        IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        Enabled ? CountedAsync(continuation(requestStream, responseStream, context), context.Method) : continuation(requestStream, responseStream, context);

    private static async Task CountedAsync(Task stream, string method)
    {
        var code = StatusCode.OK;
        try
        {
            await stream.ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            code = e.StatusCode;
            throw;
        }
        finally
        {
            CountStream(method, code);
        }
    }

    private static void Record(string method, string side, StatusCode code, long start)
    {
        var m = new KeyValuePair<string, object?>(RayMetrics.Method, method);
        var s = new KeyValuePair<string, object?>(RayMetrics.Side, side);
        RayMetrics.RpcCalls.Add(1, m, s, new KeyValuePair<string, object?>(RayMetrics.Code, CodeName(code)));
        if (RayMetrics.RpcLatency.Enabled) RayMetrics.RpcLatency.Record(Stopwatch.GetElapsedTime(start).TotalSeconds, m, s);
    }

    private static void CountStream(string method, StatusCode code) =>
        RayMetrics.RpcCalls.Add(1, new KeyValuePair<string, object?>(RayMetrics.Method, method),
            new KeyValuePair<string, object?>(RayMetrics.Side, Server), new KeyValuePair<string, object?>(RayMetrics.Code, CodeName(code)));

    /// <summary>Status code names by value (the codes are 0 to 16), so a call formats no enum.</summary>
    private static readonly string?[] s_codes = CodeNames();

    private static string?[] CodeNames()
    {
        var values = Enum.GetValues<StatusCode>();
        var names = new string?[(int)values.Max() + 1];
        foreach (var v in values) names[(int)v] = v.ToString();
        return names;
    }

    private static string CodeName(StatusCode code) => (uint)code < (uint)s_codes.Length && s_codes[(int)code] is { } name ? name : code.ToString();
}
