using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using RaySharp.Core;
using RaySharp.Core.Gcs;
using RaySharp.Core.Raylet;
using RaySharp.Core.Rpc;
using RaySharp.Core.Worker;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>The cluster token on every call (gRPC and in process), the servers' message size limits, the internal
/// KV's quotas, the env vars a worker may not be started with, and the modes of session files.</summary>
public sealed class ClusterAuthTests
{
    private static readonly RayConfig Config = RayConfig.Default with { AuthToken = ClusterToken.Generate() };
    private static readonly KvRequest Ping = new("ns", "k", [1], false);

    [Fact]
    public async Task An_in_process_call_without_the_token_or_with_a_wrong_one_is_unauthenticated_and_counted()
    {
        await using var server = InProcessTransport.Start("auth", [new InProcessTransportTests.Service()], Config.AuthToken!);
        var ok = await RpcChannels.Invoker(server.Endpoint, Config).AsyncUnaryCall(InProcessTransportTests.Service.Echo, null, new CallOptions(), Ping);
        Assert.Equal([1], ok.Value);

        foreach (var config in (RayConfig[])[RayConfig.Default, RayConfig.Default with { AuthToken = ClusterToken.Generate() }])
        {
            var e = await Assert.ThrowsAsync<RpcException>(() =>
                RpcChannels.Invoker(server.Endpoint, config).AsyncUnaryCall(InProcessTransportTests.Service.Echo, null, new CallOptions(), Ping).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, e.StatusCode);
        }
        var stream = Assert.Throws<RpcException>(() =>
            RpcChannels.Invoker(server.Endpoint).AsyncDuplexStreamingCall(InProcessTransportTests.Service.Chat, null, new CallOptions()));
        Assert.Equal(StatusCode.Unauthenticated, stream.StatusCode);
        Assert.Equal(3, server.Authenticator.Rejected);
    }

    [Fact]
    public async Task A_grpc_call_to_the_gcs_without_the_token_is_unauthenticated_and_counted()
    {
        using var gcs = new GcsServer(Config, NullLoggerFactory.Instance);
        await using var server = await RpcServer.StartAsync("127.0.0.1", 0, null, [gcs.Service], Config);
        long before = ClusterAuthenticator.TotalRejected;

        Assert.True(new GcsClient(server.Endpoint, Config).KvPut("ns", "k", [1], overwrite: false));
        var none = Assert.Throws<RayException>(() => new GcsClient(server.Endpoint).KvGet("ns", "k"));
        Assert.Contains("Authentication failed", none.Message);
        Assert.Equal(StatusCode.Unauthenticated, Assert.IsType<RpcException>(none.InnerException).StatusCode);
        var wrong = Assert.Throws<RpcException>(() => RpcChannels.Invoker(server.Endpoint, RayConfig.Default with { AuthToken = ClusterToken.Generate() })
            .BlockingUnaryCall(GcsService.GetAllNodesMethod, null, new CallOptions(), Empty.Instance));
        Assert.Equal(StatusCode.Unauthenticated, wrong.StatusCode);
        // A streaming call is checked too.
        using var logs = RpcChannels.Invoker(server.Endpoint).AsyncServerStreamingCall(GcsService.SubscribeLogsMethod, null, new CallOptions(),
            new JobIdRequest(new JobId(1)));
        var streamed = await Assert.ThrowsAsync<RpcException>(() => logs.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.Unauthenticated, streamed.StatusCode);

        Assert.Equal(3, server.Authenticator.Rejected);
        Assert.True(ClusterAuthenticator.TotalRejected >= before + 3);
    }

    [Fact]
    public async Task A_message_over_the_services_limit_fails_with_resource_exhausted()
    {
        var config = Config with { GcsGrpcMaxReceiveMessageSize = 64 * 1024, InternalKvMaxValueSize = 1 << 30 };
        using var gcs = new GcsServer(config, NullLoggerFactory.Instance);
        await using var server = await RpcServer.StartAsync("127.0.0.1", 0, null, [gcs.Service], config);
        var e = Assert.Throws<RayException>(() => new GcsClient(server.Endpoint, config).KvPut("ns", "big", new byte[128 * 1024], overwrite: true));
        Assert.Equal(StatusCode.ResourceExhausted, Assert.IsType<RpcException>(e.InnerException).StatusCode);
        Assert.True(new GcsClient(server.Endpoint, config).KvPut("ns", "small", new byte[1024], overwrite: true));
    }

    [Fact]
    public async Task The_internal_kv_refuses_values_keys_and_totals_over_its_quotas_naming_the_limit()
    {
        var config = Config with { InternalKvMaxValueSize = 1000, InternalKvMaxTotalBytes = 2500, InternalKvMaxKeyLength = 16 };
        using var gcs = new GcsServer(config, NullLoggerFactory.Instance);
        await using var server = await RpcServer.StartAsync("127.0.0.1", 0, null, [gcs.Service], config);
        var client = new GcsClient(server.Endpoint, config);

        var value = Assert.Throws<RayException>(() => client.KvPut("ns", "v", new byte[1001], overwrite: true));
        Assert.Contains("internal_kv_max_value_size", value.Message);
        var key = Assert.Throws<RayException>(() => client.KvPut("ns", new string('k', 17), [1], overwrite: true));
        Assert.Contains("internal_kv_max_key_length", key.Message);
        Assert.True(client.KvPut("ns", "a", new byte[1000], overwrite: true));
        Assert.True(client.KvPut("ns", "b", new byte[1000], overwrite: true));
        var total = Assert.Throws<RayException>(() => client.KvPut("ns", "c", new byte[1000], overwrite: true));
        Assert.Contains("internal_kv_max_total_bytes", total.Message);
        Assert.Equal(StatusCode.ResourceExhausted, Assert.IsType<RpcException>(total.InnerException).StatusCode);
        // Overwriting in place and deleting free their old bytes.
        Assert.False(client.KvPut("ns", "a", new byte[500], overwrite: true));
        Assert.True(client.KvDelete("ns", "b"));
        Assert.True(client.KvPut("ns", "c", new byte[1000], overwrite: true));
    }

    [Theory]
    [InlineData("DOTNET_STARTUP_HOOKS")]
    [InlineData("DOTNET_ADDITIONAL_DEPS")]
    [InlineData("DOTNET_SHARED_STORE")]
    [InlineData("CORECLR_PROFILER_PATH")]
    [InlineData("COR_ENABLE_PROFILING")]
    [InlineData("LD_PRELOAD")]
    public void A_worker_is_not_started_with_an_env_var_that_changes_how_code_loads(string name)
    {
        var job = new JobRecord { JobId = new JobId(1), Namespace = "ns", CodeSearchPath = AppContext.BaseDirectory };
        var e = Assert.Throws<InvalidOperationException>(() => WorkerEnvironment.Validate(job, new Dictionary<string, string> { [name] = "x" }));
        Assert.Contains(name, e.Message);
        var fromJob = Assert.Throws<InvalidOperationException>(() =>
            WorkerEnvironment.Validate(job with { EnvVars = new() { [name] = "x" } }, null));
        Assert.Contains(name, fromJob.Message);
        WorkerEnvironment.Validate(job, new Dictionary<string, string> { ["DOTNET_gcServer"] = "1", ["MY_SETTING"] = "x" });
    }

    [Theory]
    [InlineData("RAY_NODE_IP_ADDRESS")]
    [InlineData("RAY_USE_TLS")]
    [InlineData("RAY_TLS_CA_CERT")]
    public void A_job_cannot_set_the_address_or_the_TLS_its_node_gives_its_workers(string name)
    {
        var job = new JobRecord { JobId = new JobId(1), Namespace = "ns", CodeSearchPath = AppContext.BaseDirectory };
        var e = Assert.Throws<InvalidOperationException>(() => WorkerEnvironment.Validate(job, new Dictionary<string, string> { [name] = "0" }));
        Assert.Contains($"sets the env var {name}, which the node sets for its workers itself", e.Message);
        Assert.Throws<InvalidOperationException>(() => WorkerEnvironment.Validate(job with { EnvVars = new() { [name.ToLowerInvariant()] = "0" } }, null));
    }

    [Theory]
    [InlineData("relative/dir")]
    [InlineData("/no/such/raysharp/dir")]
    [InlineData("")]
    public void A_worker_is_not_started_from_a_code_search_path_that_is_not_an_existing_absolute_directory(string path)
    {
        var job = new JobRecord { JobId = new JobId(1), Namespace = "ns", CodeSearchPath = path };
        var e = Assert.Throws<InvalidOperationException>(() => WorkerEnvironment.Validate(job, null));
        Assert.Contains("code search path", e.Message);
    }

    [Fact]
    public void A_session_directory_is_the_owners_only_and_so_is_its_token()
    {
        if (OperatingSystem.IsWindows()) return;
        string root = Path.Combine(Path.GetTempPath(), "raysharp-auth-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            string session = NodeHost.NewSessionDir(root);
            const UnixFileMode owner = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
            Assert.Equal(owner, File.GetUnixFileMode(session));
            Assert.Equal(owner, File.GetUnixFileMode(NodeHost.LogDir(session)));
            Assert.Equal(owner, File.GetUnixFileMode(Path.Combine(session, "sockets")));
            var token = ClusterToken.Generate();
            token.WriteToSession(session, "127.0.0.1:1234");
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(session, ClusterToken.FileName)));
            Assert.Equal(token.Value, ClusterToken.FindLocal("127.0.0.1:1234", root)!.Value);
            Assert.Null(ClusterToken.FindLocal("127.0.0.1:1235", root));
            Assert.Equal(64, token.Value.Length);
            Assert.DoesNotContain(token.Value, (Config with { AuthToken = token }).ToString());
            Assert.DoesNotContain(token.Value, (Config with { AuthToken = token }).Describe());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
