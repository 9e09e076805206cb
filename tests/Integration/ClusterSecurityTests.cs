using Grpc.Core;
using RaySharp.Core;
using RaySharp.Core.Rpc;
using RaySharp.Integration.Driver;
using RaySharp.Testing;
using Xunit;

namespace RaySharp.Integration;

/// <summary>The cluster token on a real cluster: nodes, drivers and raw RPCs without it are refused; the session
/// directory and the token file are the owner's only; a task cannot start workers with a loader-hijacking env var.</summary>
public sealed class ClusterSecurityTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public void A_node_joining_with_a_wrong_token_is_refused_and_exits_naming_authentication()
    {
        using var cluster = TestCluster.Start();
        var e = Assert.Throws<InvalidOperationException>(() => cluster.AddNodeWithToken(ClusterToken.Generate()));
        Assert.Contains("exited before it was ready", e.Message);
        Assert.Contains("Authentication failed", e.Message);
        cluster.WaitForNodes(1, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void A_driver_connecting_with_a_wrong_token_gets_an_error_naming_authentication()
    {
        using var cluster = TestCluster.Start();
        string? before = Environment.GetEnvironmentVariable(ClusterToken.Variable);
        Environment.SetEnvironmentVariable(ClusterToken.Variable, ClusterToken.Generate().Value);
        try
        {
            var e = Assert.Throws<InvalidOperationException>(() => Ray.Init(new RayOptions { Address = cluster.Address }));
            Assert.Contains("Authentication failed", e.Message);
            Assert.Contains(cluster.Address, e.Message);
        }
        finally
        {
            Environment.SetEnvironmentVariable(ClusterToken.Variable, before);
        }
        // Without RAY_AUTH_TOKEN, a driver on the head's machine finds the token in the head's session directory.
        using var ray = Ray.Init(new RayOptions { Address = cluster.Address });
        Assert.Equal(7, Probe.Remote.Leaf(7).Get(Timeout));
    }

    [Fact]
    public void A_driver_that_finds_no_cluster_token_anywhere_is_told_how_to_give_it()
    {
        // No RAY_AUTH_TOKEN, and no session directory (under its temp dir or the default one) names this address.
        const string address = "127.0.0.1:1";
        string temp = Path.Combine(Path.GetTempPath(), "rs-no-token-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(temp);
        string? before = Environment.GetEnvironmentVariable(ClusterToken.Variable);
        Environment.SetEnvironmentVariable(ClusterToken.Variable, null);
        try
        {
            var e = Assert.Throws<InvalidOperationException>(() => Ray.Init(new RayOptions { Address = address, TempDir = temp }));
            CliTests.AssertSaysHowToGiveTheToken(e.Message, address);
        }
        finally
        {
            Environment.SetEnvironmentVariable(ClusterToken.Variable, before);
            Directory.Delete(temp, recursive: true);
        }
    }

    [Fact]
    public void Raw_calls_to_the_gcs_a_raylet_and_a_worker_without_the_token_are_unauthenticated_and_logged()
    {
        using var cluster = TestCluster.Start();
        using var ray = Ray.Init(new RayOptions { Address = cluster.Address });
        var where = Where.Remote.Create();
        _ = where.Node().Get(Timeout);
        var actor = new GcsClient(cluster.Address, cluster.Config).GetAllActors().Single(a => a.Worker is not null);

        var noToken = RayConfig.Default;
        var wrongToken = RayConfig.Default with { AuthToken = ClusterToken.Generate() };
        foreach (var config in (RayConfig[])[noToken, wrongToken])
        {
            AssertUnauthenticated(() => RpcChannels.Invoker(cluster.Address, config)
                .BlockingUnaryCall(Core.Gcs.GcsService.GetAllNodesMethod, null, new CallOptions(), Empty.Instance));
            AssertUnauthenticated(() => RpcChannels.Invoker(cluster.Head.RayletEndpoint, config)
                .BlockingUnaryCall(Core.Raylet.NodeManagerService.GetNodeStatsMethod, null, new CallOptions(), Empty.Instance));
            AssertUnauthenticated(() => RpcChannels.Invoker(actor.Worker!.Endpoint, config)
                .BlockingUnaryCall(CoreWorkerService.GetObjectMethod, null, new CallOptions(), new GetObjectRequest(default)));
        }
        // The same calls with the token are served, and each refusal was logged with its method.
        Assert.NotEmpty(new GcsClient(cluster.Address, cluster.Config).GetAllNodes().Nodes);
        // Log files are flushed periodically: wait for the lines.
        string Logs() => string.Join("\n", Directory.GetFiles(Path.Combine(cluster.SessionDir, "logs")).Select(ReadShared));
        ThreeNodeTests.WaitUntil(() => Logs() is var logs && logs.Contains("Refused an RPC from", StringComparison.Ordinal) &&
            logs.Contains(Core.Raylet.NodeManagerService.GetNodeStatsMethod.FullName, StringComparison.Ordinal) &&
            logs.Contains(CoreWorkerService.GetObjectMethod.FullName, StringComparison.Ordinal) &&
            logs.Contains(Core.Gcs.GcsService.GetAllNodesMethod.FullName, StringComparison.Ordinal));
        Ray.Kill(where);
    }

    [Fact]
    public void The_session_directory_is_the_owners_only_and_so_is_the_token_file()
    {
        if (OperatingSystem.IsWindows()) return;
        using var cluster = TestCluster.Start();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(cluster.SessionDir));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute,
            File.GetUnixFileMode(Path.Combine(cluster.SessionDir, "sockets")));
        string tokenFile = Path.Combine(cluster.SessionDir, ClusterToken.FileName);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenFile));
        Assert.Equal(cluster.Config.AuthToken!.Value, File.ReadAllText(tokenFile));
        foreach (var socket in Directory.GetFiles(Path.Combine(cluster.SessionDir, "sockets")))
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(socket));
    }

    [Fact]
    public void A_task_whose_env_vars_set_DOTNET_STARTUP_HOOKS_fails_naming_the_variable()
    {
        using var cluster = TestCluster.Start();
        using var ray = Ray.Init(new RayOptions { Address = cluster.Address });
        var env = new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["DOTNET_STARTUP_HOOKS"] = "/tmp/hook.dll" } };
        var e = Assert.ThrowsAny<Exception>(() => Probe.Remote.WithOptions(new TaskOptions { RuntimeEnv = env }).Leaf(1).Get(Timeout));
        Assert.Contains("DOTNET_STARTUP_HOOKS", e.ToString());
        Assert.Equal(2, Probe.Remote.Leaf(2).Get(Timeout));
    }

    private static void AssertUnauthenticated(Action call) =>
        Assert.Equal(StatusCode.Unauthenticated, Assert.Throws<RpcException>(call).StatusCode);

    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new StreamReader(stream).ReadToEnd();
    }
}
