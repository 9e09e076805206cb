using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Grpc.Core;
using RaySharp.Core;
using RaySharp.Core.Gcs;
using RaySharp.Core.Raylet;
using RaySharp.Core.Rpc;
using RaySharp.Core.Worker;

namespace RaySharp.Testing;

/// <summary>Options of a <see cref="TestCluster"/>'s head node.</summary>
public sealed record TestClusterOptions
{
    /// <summary>CPUs of the head node (default 1).</summary>
    public double HeadNumCpus { get; init; } = 1;

    /// <summary>GPUs of the head node.</summary>
    public double HeadNumGpus { get; init; }

    /// <summary>Custom resources of the head node.</summary>
    public IReadOnlyDictionary<string, double>? HeadResources { get; init; }

    /// <summary>GCS storage (<c>redis://host:port</c>); null keeps the GCS tables in memory.</summary>
    public string? GcsStorage { get; init; }
}

/// <summary>A node of a <see cref="TestCluster"/>: a real raylet process on this machine.</summary>
public sealed class TestNode
{
    internal TestNode(NodeId nodeId, Process process, bool isHead, string rayletEndpoint)
    {
        NodeId = nodeId;
        Process = process;
        IsHead = isHead;
        RayletEndpoint = rayletEndpoint;
    }

    /// <summary>The node's ID, as <see cref="Ray.Nodes"/> and <see cref="NodeAffinitySchedulingStrategy"/> use it.</summary>
    public NodeId NodeId { get; }

    /// <summary>The raylet process.</summary>
    public int ProcessId => Process.Id;

    /// <summary>True for the head node (it also hosts the GCS).</summary>
    public bool IsHead { get; }

    /// <summary>The raylet's TCP endpoint.</summary>
    public string RayletEndpoint { get; }

    internal Process Process { get; }

    /// <inheritdoc/>
    public override string ToString() => $"TestNode({NodeId.ToString()[..8]}, pid {ProcessId}{(IsHead ? ", head" : "")})";
}

/// <summary>
/// A multi-node cluster on this machine for tests, like Ray's <c>cluster_utils.Cluster</c>: each node is a real
/// raylet process on loopback with its own resources; the head node also hosts the GCS. Every process it starts
/// ends with <see cref="Dispose"/>, and with the test process itself (each node's stdin is a pipe from it).
/// </summary>
public sealed class TestCluster : IDisposable
{
    private readonly Lock _lock = new();
    private readonly List<TestNode> _nodes = [];
    private readonly string _sessionDir;
    private readonly string _runtimeConfig;
    private bool _disposed;

    private TestCluster(string sessionDir)
    {
        _sessionDir = sessionDir;
        Config = RayConfig.Default with { AuthToken = ClusterToken.Generate() };
        _runtimeConfig = ProcessWorkerLauncher.WriteWorkerRuntimeConfig(sessionDir);
    }

    /// <summary>The GCS address (<c>127.0.0.1:port</c>) for <see cref="RayOptions.Address"/>.</summary>
    public string Address { get; private set; } = "";

    /// <summary>The head node.</summary>
    public TestNode Head { get; private set; } = null!;

    /// <summary>The nodes started and not removed, the head first.</summary>
    public IReadOnlyList<TestNode> Nodes
    {
        get { lock (_lock) return [.. _nodes]; }
    }

    /// <summary>The session directory: worker logs are under <c>logs/</c>; the cluster token is in <c>auth_token</c>.</summary>
    public string SessionDir => _sessionDir;

    /// <summary>The configuration of this process's clients of the cluster: its cluster token (every node gets it in its
    /// environment, never on its command line).</summary>
    internal RayConfig Config { get; }

    /// <summary>Starts the head node (GCS + raylet).</summary>
    public static TestCluster Start(TestClusterOptions? options = null)
    {
        options ??= new TestClusterOptions();
        if (options.GcsStorage is not null)
            throw new NotSupportedException("TestClusterOptions.GcsStorage (Redis) is not available in this version of RaySharp yet; leave it null.");
        var cluster = new TestCluster(NodeHost.NewSessionDir(null));
        try
        {
            var (head, gcs) = cluster.StartNode(head: true, options.HeadNumCpus, options.HeadNumGpus, options.HeadResources, null);
            cluster.Head = head;
            cluster.Address = gcs;
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    /// <summary>Starts another raylet process with these resources and waits until the GCS knows it.</summary>
    public TestNode AddNode(double numCpus = 1, double numGpus = 0, IReadOnlyDictionary<string, double>? resources = null,
        long? objectStoreMemory = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var (node, _) = StartNode(head: false, numCpus, numGpus, resources, objectStoreMemory);
        return node;
    }

    /// <summary>Starts a node that joins with <paramref name="token"/> instead of the cluster's (a test of the
    /// cluster's authentication: with a wrong one the node exits before it is ready).</summary>
    internal TestNode AddNodeWithToken(ClusterToken token)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return StartNode(head: false, 1, 0, null, null, token).Node;
    }

    private (TestNode Node, string Gcs) StartNode(bool head, double numCpus, double numGpus, IReadOnlyDictionary<string, double>? resources,
        long? objectStoreMemory, ClusterToken? token = null)
    {
        string runtimeDll = typeof(TestCluster).Assembly.Location;
        var psi = new ProcessStartInfo(ProcessWorkerLauncher.DotnetHost())
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(runtimeDll)!,
        };
        var args = new List<string>
        {
            "exec", "--runtimeconfig", _runtimeConfig, runtimeDll, "node", "--lifeline", "--session-dir", _sessionDir,
            "--num-cpus", numCpus.ToString(CultureInfo.InvariantCulture), "--num-gpus", numGpus.ToString(CultureInfo.InvariantCulture),
        };
        if (head) args.Add("--head");
        else args.AddRange(["--address", Address]);
        if (resources is { Count: > 0 }) args.AddRange(["--resources", JsonSerializer.Serialize(resources)]);
        if (objectStoreMemory is { } bytes) args.AddRange(["--object-store-memory", bytes.ToString(CultureInfo.InvariantCulture)]);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment[ClusterToken.Variable] = (token ?? Config.AuthToken!).Value;
        var process = Process.Start(psi) ?? throw new InvalidOperationException("Could not start a node process.");
        var ready = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var errors = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.StartsWith(NodeMain.ReadyMarker, StringComparison.Ordinal) == true) ready.TrySetResult(e.Data);
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (errors) errors.AppendLine(e.Data); };
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) =>
        {
            // The exit can be seen before the last lines of stderr are read: wait for the streams to end first.
            process.WaitForExit();
            string why;
            lock (errors) why = errors.ToString();
            ready.TrySetException(new InvalidOperationException($"The node process exited before it was ready (code {process.ExitCode}): {why}"));
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        string line;
        try
        {
            line = ready.Task.WaitAsync(TimeSpan.FromSeconds(60)).GetAwaiter().GetResult();
        }
        catch (TimeoutException)
        {
            Kill(process);
            throw new InvalidOperationException($"The node process did not become ready within 60 s: {errors}");
        }
        var fields = line.Split(' ').Skip(1).Select(f => f.Split('=', 2)).ToDictionary(f => f[0], f => f[1]);
        var node = new TestNode(NodeId.Parse(fields["node"]), process, head, fields["raylet"]);
        lock (_lock) _nodes.Add(node);
        return (node, fields["gcs"]);
    }

    /// <summary>Removes a node. Not graceful: SIGKILL its raylet and workers at once (the GCS notices by missed
    /// health checks, as with a crashed machine). Graceful: stop it and unregister it from the GCS.</summary>
    public void RemoveNode(TestNode node, bool graceful = true)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (node.IsHead) throw new ArgumentException("The head node hosts the GCS and cannot be removed; dispose the cluster instead.", nameof(node));
        lock (_lock) _nodes.Remove(node);
        if (graceful)
        {
            // Closing stdin stops the node like SIGTERM: it unregisters from the GCS and stops its workers.
            try { node.Process.StandardInput.Close(); } catch (IOException) { }
            if (!node.Process.WaitForExit(10_000)) Kill(node.Process);
        }
        else
        {
            Kill(node.Process);
        }
    }

    /// <summary>Kills the GCS. Not available yet: the GCS shares the head node's process.</summary>
    public void KillGcs() => throw new NotSupportedException("GCS fault injection needs the GCS in its own process with Redis storage, which this version does not have yet.");

    /// <summary>Restarts the GCS. Not available yet (see <see cref="KillGcs"/>).</summary>
    public void RestartGcs() => KillGcs();

    /// <summary>Waits until the GCS reports <paramref name="count"/> alive nodes.</summary>
    /// <exception cref="TimeoutException">They are not there within <paramref name="timeout"/>.</exception>
    public void WaitForNodes(int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            int alive = AliveNodeCount();
            if (alive == count) return;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"The cluster has {alive} alive nodes, not {count}, after {timeout.TotalSeconds:0.#} s.");
            Thread.Sleep(50); // polling the GCS's node table: there is no event to wait on from outside the cluster
        }
    }

    private int AliveNodeCount()
    {
        try
        {
            return new GcsClient(Address, Config).GetAllNodes().Nodes.Count(n => n.Alive);
        }
        catch (RayException)
        {
            return 0;
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    /// <summary>Stops every node (workers included).</summary>
    public void Dispose()
    {
        List<TestNode> nodes;
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            nodes = [.. _nodes];
            _nodes.Clear();
        }
        foreach (var n in nodes.Where(n => !n.IsHead)) Kill(n.Process);
        foreach (var n in nodes.Where(n => n.IsHead)) Kill(n.Process);
        // Killed nodes leave their shared-memory objects behind.
        NodeHost.DeleteStoreDirectories(_sessionDir);
        if (Address.Length > 0) RpcChannels.Forget(Address);
    }
}
