using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace RaySharp.Core.Rpc;

/// <summary>
/// The server side of the cluster token: one per RPC host, shared by every service it hosts (gRPC through
/// <see cref="ClusterAuthMiddleware"/>, local mode through <see cref="InProcessServer"/>). A call without the right
/// token fails with <see cref="StatusCode.Unauthenticated"/>, is counted, and is logged with its peer and method (at
/// most <see cref="LogsPerMinute"/> lines a minute, so a flood cannot fill the disk).
/// </summary>
internal sealed class ClusterAuthenticator(ClusterToken token, ILogger? logger = null)
{
    public const string HeaderName = "authorization";
    private const string Scheme = "Bearer ";
    public const int LogsPerMinute = 10;

    private static long s_totalRejected;
    private readonly Lock _logLock = new();
    private long _rejected;
    private long _windowStart = Environment.TickCount64;
    private int _loggedInWindow;
    private int _suppressedInWindow;

    /// <summary>Calls this server refused.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Calls every server of this process refused.</summary>
    public static long TotalRejected => Interlocked.Read(ref s_totalRejected);

    /// <summary>Throws <see cref="RpcException"/> (Unauthenticated) unless <paramref name="headers"/> carry the token.</summary>
    public void Check(Metadata? headers, string method, string peer) => Check(headers?.GetValue(HeaderName), method, peer);

    /// <summary>Throws <see cref="RpcException"/> (Unauthenticated) unless <paramref name="value"/>, the call's
    /// <c>authorization</c> header, carries the token.</summary>
    public void Check(string? value, string method, string peer)
    {
        if (value is not null && value.StartsWith(Scheme, StringComparison.Ordinal) &&
            CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(value[Scheme.Length..]), token.Bytes))
            return;
        Interlocked.Increment(ref _rejected);
        Interlocked.Increment(ref s_totalRejected);
        Log(method, peer, value is null ? "no cluster token" : "a wrong cluster token");
        throw new RpcException(new Status(StatusCode.Unauthenticated,
            $"Authentication failed: the call to {method} carried {(value is null ? "no" : "a wrong")} cluster token. " +
            $"Give this cluster's token as {ClusterToken.Variable} (the head node wrote it to <session dir>/{ClusterToken.FileName})."));
    }

    private void Log(string method, string peer, string why)
    {
        int suppressed;
        lock (_logLock)
        {
            long now = Environment.TickCount64;
            if (now - _windowStart >= 60_000)
            {
                _windowStart = now;
                _loggedInWindow = 0;
            }
            if (_loggedInWindow >= LogsPerMinute)
            {
                _suppressedInWindow++;
                return;
            }
            _loggedInWindow++;
            suppressed = _suppressedInWindow;
            _suppressedInWindow = 0;
        }
        string message = $"Refused an RPC from {peer} to {method}: {why} ({Rejected} refused so far" +
            (suppressed > 0 ? $"; {suppressed} not logged in the last minute" : "") + ").";
        if (logger is not null) logger.RefusedCall(message);
        else Console.Error.WriteLine("[RaySharp] Warning: " + message);
    }
}

/// <summary>
/// Checks the cluster token of every call of every service of a <see cref="RpcServer"/>, before gRPC reads the call's
/// message: a caller without the token is refused without a byte of its message parsed (an interceptor would run only
/// after the message was read and deserialized). The refusal is a trailers-only gRPC response, status Unauthenticated.
/// </summary>
internal static class ClusterAuthMiddleware
{
    public static void UseClusterAuth(this IApplicationBuilder app, ClusterAuthenticator authenticator) =>
        app.Use((context, next) =>
        {
            var connection = context.Connection;
            string peer = connection.RemoteIpAddress is { } ip ? $"{ip}:{connection.RemotePort}" : "unix";
            try
            {
                authenticator.Check(context.Request.Headers.Authorization.ToString() is { Length: > 0 } h ? h : null, context.Request.Path.Value ?? "", peer);
            }
            catch (RpcException e)
            {
                var response = context.Response;
                response.StatusCode = 200;
                response.ContentType = "application/grpc";
                response.Headers["grpc-status"] = ((int)e.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
                response.Headers["grpc-message"] = Uri.EscapeDataString(e.Status.Detail);
                return Task.CompletedTask;
            }
            return next(context);
        });
}
