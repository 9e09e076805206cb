using System.Net.Sockets;
using Grpc.Core;

namespace RaySharp.Core.Rpc;

/// <summary>
/// Transport failures in words a user can act on. An <see cref="RpcException"/>'s own text
/// (<c>Status(StatusCode="Unavailable", Detail=..., DebugException=...)</c>) says neither who was called nor what
/// happened in plain terms, and a call over a Unix socket names the placeholder host <c>localhost:80</c>: messages that
/// reach users, logs included, say what was contacted (the caller's part) and, from here, the status in words with
/// the underlying cause.
/// </summary>
internal static class RpcErrors
{
    private const string PlaceholderHost = "localhost:80";

    /// <summary>For example <c>unreachable (the process is gone or not listening): connection refused [Unavailable]</c>.
    /// <paramref name="endpoint"/>, when known, replaces the placeholder host of a Unix-socket channel.</summary>
    public static string Describe(RpcException e, string? endpoint = null)
    {
        string words = InWords(e.StatusCode);
        string cause = Cause(e);
        string text = cause.Length == 0 ? words : $"{words}: {cause}";
        return $"{Clean(text, endpoint)} [{e.StatusCode}]";
    }

    /// <summary>Any exception of a call: an <see cref="RpcException"/> as <see cref="Describe(RpcException, string?)"/>;
    /// another (a socket or HTTP/2 error) by its innermost cause, without the placeholder host.</summary>
    public static string Describe(Exception e, string? endpoint = null) => e switch
    {
        RpcException rpc => Describe(rpc, endpoint),
        OperationCanceledException => "the call was canceled",
        _ => Clean(Innermost(e) is var inner && inner is SocketException or IOException or HttpRequestException
            ? LowerFirst(inner.Message)
            : $"{e.GetType().Name}: {e.Message}", endpoint),
    };

    /// <summary>What a status code means for the caller, in words.</summary>
    public static string InWords(StatusCode code) => code switch
    {
        StatusCode.Unavailable => "unreachable (the process is gone or not listening)",
        StatusCode.DeadlineExceeded => "no answer in time",
        StatusCode.Cancelled => "the call was canceled",
        StatusCode.Unknown or StatusCode.Internal => "the connection failed",
        StatusCode.Aborted => "the call was aborted",
        StatusCode.Unauthenticated => "the call was refused: wrong or missing cluster token",
        StatusCode.PermissionDenied => "the call was refused",
        StatusCode.ResourceExhausted => "the message is over the receiver's size limit or quota",
        StatusCode.InvalidArgument => "the request was refused as invalid",
        StatusCode.Unimplemented => "the process does not serve this call (a different RaySharp version?)",
        StatusCode.NotFound => "not found",
        _ => "the call failed",
    };

    private static string Cause(RpcException e)
    {
        // A failure on the client side (connecting, a broken connection) carries the exception that caused it; a
        // status the server sent carries its reason as the detail.
        if (e.Status.DebugException is { } debug) return LowerFirst(Innermost(debug).Message);
        string detail = e.Status.Detail;
        return detail is "" or "Error starting gRPC call." or "Error connecting to subchannel." or "Bad gRPC response." ? "" : detail;
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is { } inner) e = inner;
        return e;
    }

    private static string LowerFirst(string s) =>
        s.Length > 1 && char.IsUpper(s[0]) && !char.IsUpper(s[1]) ? char.ToLowerInvariant(s[0]) + s[1..] : s;

    private static string Clean(string text, string? endpoint) =>
        text.Replace(PlaceholderHost, endpoint is { Length: > 0 } ? endpoint : "its Unix socket", StringComparison.Ordinal).TrimEnd('.', ' ');
}
