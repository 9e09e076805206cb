using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Reflection;
using RaySharp.Core;
using RaySharp.Core.Raylet;
using Xunit;
using Xunit.Abstractions;

namespace RaySharp.MultiHost;

/// <summary>A fact that is skipped, saying why, where network namespaces cannot be made (not Linux, not root, no
/// <c>ip</c>/<c>nft</c>, or <c>ip netns add</c> refused).</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class NetworkHostsFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> s_unavailable = new(NetworkHosts.Unavailable);

    public NetworkHostsFactAttribute()
    {
        if (s_unavailable.Value is { } why) Skip = "needs Linux network namespaces: " + why;
    }
}

/// <summary>
/// A cluster across three hosts (network namespaces on one bridge, 10.213.0.0/24): the head in host 0, a node in each
/// of hosts 1 and 2, every node with its own directories, and a driver in host 1 that joins by the head's address and
/// whose code reaches the other hosts only through its job's working dir. Tasks, actors and a large object move between
/// hosts, over TLS with a certificate per host; a node of host 2 with the wrong token, or without TLS, is kept out; work
/// goes on while host 2 drops packets; and when host 2 is cut off it is declared dead and its task and actor are
/// recovered on the others.
/// </summary>
public sealed class MultiHostTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private const int TransferMiB = 128;

    [NetworkHostsFact]
    public void A_TLS_cluster_across_three_hosts_runs_tasks_actors_and_transfers_keeps_out_a_wrong_token_and_survives_loss_and_a_partition()
    {
        var clock = Stopwatch.StartNew();
        void Stage(string what) => output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0} s  {what}");
        using var hosts = NetworkHosts.Create(3);
        var token = ClusterToken.Generate();
        string gcs = NetworkHosts.Address(0) + ":6379";
        // Traffic between hosts is TLS: each host has a certificate for its own address from the cluster's CA.
        using var pki = Integration.TestCertificates.Create(Path.Combine(hosts.Directory, "pki"));
        var env = Enumerable.Range(0, 3).Select(i =>
        {
            var (certificate, key) = pki.Issue($"host{i}", IPAddress.Parse(NetworkHosts.Address(i)));
            return new Dictionary<string, string>
            {
                [ClusterToken.Variable] = token.Value, [ClusterTls.UseVariable] = "1", [ClusterTls.CertificateVariable] = certificate,
                [ClusterTls.KeyVariable] = key, [ClusterTls.CaVariable] = pki.CaPath,
            };
        }).ToArray();

        var head = StartNode(hosts, 0, env[0], null);
        string headReady = head.WaitForLine(Timeout, "RAYSHARP_NODE_READY");
        var nodes = new[] { head, StartNode(hosts, 1, env[1], gcs), StartNode(hosts, 2, env[2], gcs) };
        var ids = new string[3];
        for (int i = 0; i < 3; i++)
        {
            var fields = Fields(i == 0 ? headReady : nodes[i].WaitForLine(Timeout, "RAYSHARP_NODE_READY"));
            ids[i] = fields["node"];
            // Each process binds and advertises its host's address.
            Assert.Equal($"{NetworkHosts.Address(i)}:", fields["raylet"][..(NetworkHosts.Address(i).Length + 1)]);
            Assert.Equal(gcs, fields["gcs"]);
        }

        Stage("nodes ready");
        // The driver runs on host 1, not the head's, from a copy of its build output in a directory of its own: the other
        // hosts get its code as a package.
        string code = Path.Combine(hosts.Directory, "driver-code");
        CopyDirectory(DriverBuildOutput(), code);
        using var driver = hosts.Start(1, ProcessWorkerLauncher.DotnetHost(),
            [Path.Combine(code, "RaySharp.MultiHost.Driver.dll"), Path.Combine(hosts.Directory, "driver")],
            new Dictionary<string, string>(env[1]) { ["RAY_ADDRESS"] = gcs }, "the driver");

        // Meanwhile a node of host 2 with the wrong token (and a good certificate) tries to join, and one with the token
        // but in clear text: neither gets in.
        using (var intruder = StartNode(hosts, 2, new Dictionary<string, string>(env[2]) { [ClusterToken.Variable] = ClusterToken.Generate().Value },
            gcs, "the node with a wrong token"))
        using (var clear = StartNode(hosts, 2, new Dictionary<string, string> { [ClusterToken.Variable] = token.Value,
            ["RAY_gcs_rpc_server_reconnect_timeout_s"] = "2" }, gcs, "the node without TLS"))
        {
            Assert.Equal(1, intruder.WaitForExit(Timeout));
            Assert.Contains("Authentication failed", intruder.Errors, StringComparison.Ordinal);
            Assert.Equal(1, clear.WaitForExit(Timeout));
            Assert.Contains($"if the cluster uses TLS, set {ClusterTls.UseVariable}", clear.Errors, StringComparison.Ordinal);
        }
        Stage("a wrong token and clear text refused");
        // It joined by the head's address and uses the node of its own host.
        Assert.Equal(ids[1], driver.WaitForLine(Timeout, "READY").Split(' ')[1]);
        Stage("driver ready");
        // Tasks and actors on every host, each loading the driver's code from the package unpacked in its node's directory.
        var basic = driver.Ask("basic", Timeout).Split(' ').Skip(2).Select(p => p.Split('|')).ToDictionary(p => p[0]);
        Assert.Equal(3, basic.Count);
        for (int i = 0; i < 3; i++)
        {
            var row = basic[ids[i]];
            Assert.StartsWith(NetworkHosts.Address(i) + ":", row[1], StringComparison.Ordinal);
            Assert.Equal(ids[i], row[2]);
            Assert.Equal("2", row[4]);
            Assert.Equal(ids[i], row[5]);
            Assert.StartsWith(Path.Combine(hosts.Directory, $"h{i}") + "/", row[3], StringComparison.Ordinal);
            Assert.Contains("working_dir_files", row[3], StringComparison.Ordinal);
        }

        Stage("tasks and actors on every host");
        // A large object made on host 2, read on host 1 by the driver (timed) and on host 0 by a task.
        var transfer = Fields(driver.Ask($"transfer {ids[2]} {ids[0]} {TransferMiB}", Timeout));
        Assert.Equal($"ok|{TransferMiB * 1024 * 1024}", transfer["here"]);
        Assert.Equal($"{ids[0]}|ok|{TransferMiB * 1024 * 1024}", transfer["there"]);
        output.WriteLine($"cross-host transfer: {TransferMiB} MiB from host 2 to host 1 in {transfer["seconds"]} s = {transfer["mbps"]} MB/s");

        Stage("transfer");
        // Host 2 drops 10% of its packets each way: tasks, actor calls and a transfer still complete.
        hosts.DropPacketsPercent(2, 10);
        var loss = Fields(driver.Ask($"loss {ids[2]}", Timeout));
        Assert.Equal("20", loss["tasks"]);
        Assert.Equal($"22|{ids[2]}", loss["actor"]);
        var lossy = Fields(driver.Ask($"transfer {ids[2]} {ids[0]} 16", Timeout));
        Assert.Equal($"ok|{16 * 1024 * 1024}", lossy["here"]);
        output.WriteLine($"with 10% packet loss each way on host 2: 16 MiB from host 2 in {lossy["seconds"]} s = {lossy["mbps"]} MB/s");
        hosts.StopDroppingPackets(2);

        Stage("work under packet loss");
        // Host 2 cut off while a task stalls there and an actor lives there: it is declared dead, and both recover elsewhere.
        var prepared = Fields(driver.Ask($"partition-prepare {ids[2]}", Timeout));
        Assert.EndsWith(ids[2], prepared["actor"], StringComparison.Ordinal);
        Stage("partition prepared");
        hosts.Partition(2);
        var partition = Fields(driver.Ask($"partition-wait {ids[2]}", TimeSpan.FromSeconds(90)));
        Assert.NotEqual(ids[2], partition["task_on"]);
        Assert.Contains(partition["task_on"], ids);
        var actor = partition["actor"].Split('|');
        Assert.NotEqual(ids[2], actor[1]);
        output.WriteLine($"partitioned host 2: declared dead after {partition["detect_s"]} s; its task and actor recovered after " +
            $"{partition["recover_s"]} s (task on {partition["task_on"][..8]}, actor call {actor[0]} on {actor[1][..8]})");
        output.WriteLine($"test body: {clock.Elapsed.TotalSeconds:0.0} s");
    }

    private static HostProcess StartNode(NetworkHosts hosts, int host, IReadOnlyDictionary<string, string> environment, string? gcs, string? name = null)
    {
        string directory = Path.Combine(hosts.Directory, $"h{host}");
        Directory.CreateDirectory(directory);
        var args = new List<string>
        {
            "node", "--lifeline", "--node-ip-address", NetworkHosts.Address(host), "--temp-dir", directory, "--num-cpus", "2",
            "--object-store-memory", (512L * 1024 * 1024).ToString(CultureInfo.InvariantCulture),
        };
        args.AddRange(gcs is null ? ["--head", "--port", "6379"] : ["--address", gcs]);
        // The test's own program in RaySharp's node mode, as TestCluster starts nodes.
        string code = AppContext.BaseDirectory;
        var start = WorkerCommand.StartInfo(WorkerCommand.ThisProgram(code) ?? throw new InvalidOperationException("The test host cannot be started again as a node."),
            code, ProcessWorkerLauncher.WriteWorkerRuntimeConfig(directory), args);
        var env = new Dictionary<string, string>(environment);
        foreach (var variable in WorkerCommand.Variables) env[variable] = start.Environment[variable]!;
        return hosts.Start(host, start.FileName, [.. start.ArgumentList], env, name ?? $"the node of host {host}");
    }

    private static Dictionary<string, string> Fields(string line) => line.Split(' ').Skip(1).Where(f => f.Contains('=', StringComparison.Ordinal))
        .Select(f => f.Split('=', 2)).ToDictionary(f => f[0], f => f[1]);

    private static string DriverBuildOutput()
    {
        string directory = typeof(MultiHostTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "DriverDirectory").Value!;
        return File.Exists(Path.Combine(directory, "RaySharp.MultiHost.Driver.dll")) ? directory
            : throw new InvalidOperationException($"The driver is not built in {directory} (dotnet build RaySharp.sln builds it).");
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
