using System.Net;
using System.Net.Security;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using RaySharp.Core;
using RaySharp.Core.Rpc;
using RaySharp.Testing;
using Xunit;

namespace RaySharp.Integration;

/// <summary>TLS between the processes of a cluster (RAY_USE_TLS with a certificate, its key and the cluster's CA, all made
/// here): tasks and actors work on a two-node cluster; a client in clear text, one with a certificate of another CA,
/// and one that does not trust the cluster's CA are all refused, while a client with the cluster's certificate is served.</summary>
public sealed class ClusterTlsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public void With_TLS_on_tasks_and_actors_work_across_nodes_and_clients_outside_the_cluster_CA_are_refused()
    {
        string directory = Path.Combine(Path.GetTempPath(), "rs-tls-" + Guid.NewGuid().ToString("N")[..8]);
        using var pki = TestCertificates.Create(directory);
        var (certificate, key) = pki.Issue("node", IPAddress.Loopback);
        using var rogue = TestCertificates.Create(directory, "rogue");
        var (rogueCertificate, rogueKey) = rogue.Issue("intruder", IPAddress.Loopback);
        var saved = ClusterTls.Variables.ToDictionary(v => v, Environment.GetEnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(ClusterTls.UseVariable, "1");
            Environment.SetEnvironmentVariable(ClusterTls.CertificateVariable, certificate);
            Environment.SetEnvironmentVariable(ClusterTls.KeyVariable, key);
            Environment.SetEnvironmentVariable(ClusterTls.CaVariable, pki.CaPath);
            using var cluster = TestCluster.Start();
            var second = cluster.AddNode(resources: new Dictionary<string, double> { ["tls_b"] = 1 });
            cluster.WaitForNodes(2, Timeout);
            using (Ray.Init(new RayOptions { Address = cluster.Address }))
            {
                Assert.Equal(7, Probe.Remote.Leaf(7).Get(Timeout));
                // An actor on the other node: its raylet, its worker and the owner talk over TLS.
                var where = Where.Remote.WithOptions(new ActorOptions { Resources = new Dictionary<string, double> { ["tls_b"] = 1 } }).Create();
                Assert.Equal(second.NodeId.ToString(), where.Node().Get(Timeout));
                Ray.Kill(where);
            }

            // The same hand-made client is served with the cluster's certificate (so the refusals below are about TLS) ...
            var member = ClusterTls.Load(certificate, key, pki.CaPath);
            Assert.NotEmpty(GetAllNodes(cluster, "https", member.ClientOptions()).Nodes);
            // ... and refused in clear text, with another CA's certificate, or without trusting the cluster's CA.
            AssertRefused(() => GetAllNodes(cluster, "http", null));
            var intruder = ClusterTls.Load(rogueCertificate, rogueKey, pki.CaPath);
            AssertRefused(() => GetAllNodes(cluster, "https", intruder.ClientOptions()));
            AssertRefused(() => GetAllNodes(cluster, "https", new SslClientAuthenticationOptions { ClientCertificates = [member.Certificate] }));
        }
        finally
        {
            foreach (var (name, value) in saved) Environment.SetEnvironmentVariable(name, value);
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void TLS_asked_for_without_its_files_is_an_error_naming_the_variable()
    {
        var variables = new Dictionary<string, string?> { [ClusterTls.UseVariable] = "1", [ClusterTls.CertificateVariable] = "/no/such/cert.pem" };
        var e = Assert.Throws<InvalidOperationException>(() => ClusterTls.FromEnvironment(v => variables.GetValueOrDefault(v)));
        Assert.Contains(ClusterTls.KeyVariable, e.Message, StringComparison.Ordinal);
        variables[ClusterTls.KeyVariable] = "/no/such/key.pem";
        variables[ClusterTls.CaVariable] = "/no/such/ca.pem";
        e = Assert.Throws<InvalidOperationException>(() => ClusterTls.FromEnvironment(v => variables.GetValueOrDefault(v)));
        Assert.Contains("/no/such/cert.pem", e.Message, StringComparison.Ordinal);
        Assert.Contains(ClusterTls.CertificateVariable, e.Message, StringComparison.Ordinal);
        variables[ClusterTls.UseVariable] = "maybe";
        Assert.Contains("'maybe'", Assert.Throws<InvalidOperationException>(() => ClusterTls.FromEnvironment(v => variables.GetValueOrDefault(v))).Message,
            StringComparison.Ordinal);
        variables[ClusterTls.UseVariable] = "0";
        Assert.Null(ClusterTls.FromEnvironment(v => variables.GetValueOrDefault(v)));
    }

    /// <summary>One GCS call through a channel made here (not the process's cached ones), with the cluster's token.</summary>
    private static ClusterView GetAllNodes(TestCluster cluster, string scheme, SslClientAuthenticationOptions? tls)
    {
        var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) };
        if (tls is not null) handler.SslOptions = tls;
        using var channel = GrpcChannel.ForAddress($"{scheme}://{cluster.Address}", new GrpcChannelOptions { HttpHandler = handler });
        var invoker = channel.CreateCallInvoker().Intercept(metadata =>
        {
            metadata.Add(ClusterAuthenticator.HeaderName, cluster.Config.AuthToken!.Header);
            return metadata;
        });
        return invoker.BlockingUnaryCall(Core.Gcs.GcsService.GetAllNodesMethod, null, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(20)),
            Empty.Instance);
    }

    private static void AssertRefused(Action call)
    {
        var e = Assert.Throws<RpcException>(call);
        Assert.True(e.StatusCode is StatusCode.Unavailable or StatusCode.Internal, $"{e.StatusCode}: {e.Status.Detail}");
    }
}
