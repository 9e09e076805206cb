using System.Net.Sockets;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using RaySharp.Core;
using RaySharp.Core.Rpc;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>Transport failures as users and logs see them: what was contacted and why in words, never gRPC's raw
/// status text or the placeholder host of a Unix-socket channel; notices nobody waits for report failures to the
/// caller's logger, not to stderr.</summary>
public sealed class RpcErrorsTests
{
    private static RpcException Refused() => new(new Status(StatusCode.Unavailable,
        "Error starting gRPC call. HttpRequestException: Connection refused (localhost:80) SocketException: Connection refused",
        new HttpRequestException("Connection refused (localhost:80)", new SocketException((int)SocketError.ConnectionRefused))));

    [Fact]
    public void A_refused_connection_is_described_in_words_with_its_status_and_without_the_raw_status_text()
    {
        string text = RpcErrors.Describe(Refused(), "unix:/tmp/s/raylet.sock");
        Assert.Contains("unreachable", text);
        Assert.Contains("connection refused", text, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("[Unavailable]", text);
        Assert.DoesNotContain("Status(", text);
        Assert.DoesNotContain("localhost:80", text);
    }

    [Fact]
    public void A_status_the_server_sent_keeps_its_reason()
    {
        var e = new RpcException(new Status(StatusCode.ResourceExhausted, "the value is over internal_kv_max_value_size"));
        string text = RpcErrors.Describe(e);
        Assert.Contains("internal_kv_max_value_size", text);
        Assert.Contains("[ResourceExhausted]", text);
    }

    [Fact]
    public void A_socket_error_outside_grpc_names_no_placeholder_host()
    {
        string text = RpcErrors.Describe(new HttpRequestException("Connection refused (localhost:80)"), "unix:/tmp/s/w.sock");
        Assert.Contains("unix:/tmp/s/w.sock", text);
        Assert.DoesNotContain("localhost:80", text);
    }

    [Fact]
    public async Task A_notice_that_fails_is_logged_to_the_callers_logger_naming_the_call_and_why()
    {
        var token = ClusterToken.Generate();
        await using var server = InProcessTransport.Start("notice", [new InProcessTransportTests.Service()], token);
        var logger = new RecordingLogger();
        // Without the token: refused (not "peer gone", which a notice ignores).
        RpcChannels.Fire(RpcChannels.Invoker(server.Endpoint, RayConfig.Default), InProcessTransportTests.Service.Echo,
            new KvRequest("ns", "k", [1], false), logger);
        await logger.Logged.WhenAtLeast(1).WaitAsync(ComponentHarness.Timeout);

        var (level, message, _) = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Warning, level);
        Assert.Contains(InProcessTransportTests.Service.Echo.FullName, message);
        Assert.Contains("cluster token", message);
        Assert.DoesNotContain("Status(", message);
    }

    [Fact]
    public void A_call_whose_caller_went_away_is_logged_at_debug_and_every_other_server_error_keeps_its_level()
    {
        var recorded = new RecordingLogger();
        using var loggers = new PeerGoneLoggerFactory(new SingleLoggerFactory(recorded));
        var handler = loggers.CreateLogger(PeerGoneLoggerFactory.CallHandlerCategory);
        // What gRPC logs when a killed worker's unary call is cut off while its request is read.
        var aborted = new IOException("The request stream was aborted.",
            new Microsoft.AspNetCore.Connections.ConnectionAbortedException("The HTTP/2 connection faulted."));
        handler.LogError(aborted, "Error when executing service method '{Method}'.", "ReturnWorkers");
        handler.LogError(new InvalidOperationException("a bug"), "Error when executing service method '{Method}'.", "ReturnWorkers");
        loggers.CreateLogger("Microsoft.AspNetCore.Server.Kestrel").LogError(aborted, "elsewhere");

        Assert.Equal([LogLevel.Debug, LogLevel.Error, LogLevel.Error], recorded.Entries.Select(e => e.Level));
        Assert.Same(aborted, recorded.Entries.First().Exception);
    }
}
