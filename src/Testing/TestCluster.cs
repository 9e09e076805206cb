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

    /// <summary>Start the head's dashboard (jobs REST API) on a free loopback port; its URL is
    /// <see cref="TestCluster.DashboardUrl"/>. Needs RaySharp.Dashboard.dll next to the runtime.</summary>
    public bool IncludeDashboard { get; init; }

    /// <summary>An autoscaling config (YAML, as <c>raysharp start --head --autoscaling-config</c>): the head runs the
    /// autoscaler, whose local provider starts and stops nodes of this machine (they stop with the cluster). Needs
    /// RaySharp.Autoscaler.dll next to the runtime.</summary>
    public string? AutoscalingConfig { get; init; }
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
        // TLS as this process's environment asks (RAY_USE_TLS ...): its nodes inherit the same variables.
        Config = RayConfig.Default with { AuthToken = ClusterToken.Generate(), Tls = ClusterTls.FromEnvironment(Environment.GetEnvironmentVariable) };
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
    /// environment, never on its command line) and, when the environment turns it on, TLS.</summary>
    internal RayConfig Config { get; }

    /// <summary>Starts the head node (GCS + raylet). With <see cref="TestClusterOptions.GcsStorage"/> the GCS runs in a
    /// process of its own over that Redis, started first on a fixed port, so <see cref="KillGcs"/> and
    /// <see cref="RestartGcs"/> can stop and restart it while the nodes keep running.</summary>
    public static TestCluster Start(TestClusterOptions? options = null)
    {
        options ??= new TestClusterOptions();
        if (options.GcsStorage is { } storage) RedisGcsTableStorage.ParseAddress(storage); // a malformed URL fails here, clearly
        var cluster = new TestCluster(NodeHost.NewSessionDir(null))
        {
            _gcsStorage = options.GcsStorage, _includeDashboard = options.IncludeDashboard, _autoscalingConfig = options.AutoscalingConfig,
        };
        try
        {
            if (cluster._gcsStorage is not null)
            {
                cluster._gcsPort = FreePort();
                cluster.StartGcs();
            }
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

    private string? _gcsStorage;
    private bool _includeDashboard;
    private string? _autoscalingConfig;
    private int _gcsPort;

    /// <summary>The head's dashboard, <c>http://127.0.0.1:PORT</c> (null unless <see cref="TestClusterOptions.IncludeDashboard"/>).</summary>
    public string? DashboardUrl { get; private set; }
    private Process? _gcs;

    /// <summary>The GCS process (null without external storage: the GCS is in the head node's process).</summary>
    public int? GcsProcessId
    {
        get { lock (_lock) return _gcs?.Id; }
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void StartGcs()
    {
        var (process, line) = StartProcess(["gcs", "--lifeline", "--session-dir", _sessionDir, "--port", _gcsPort.ToString(CultureInfo.InvariantCulture),
            "--gcs-storage", _gcsStorage!], GcsMain.ReadyMarker, Config.AuthToken!, "GCS");
        lock (_lock) _gcs = process;
        Address = Fields(line)["gcs"];
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
        var args = new List<string>
        {
            "node", "--lifeline", "--session-dir", _sessionDir,
            "--num-cpus", numCpus.ToString(CultureInfo.InvariantCulture), "--num-gpus", numGpus.ToString(CultureInfo.InvariantCulture),
        };
        if (head) args.Add("--head");
        if (head && _includeDashboard) args.AddRange(["--dashboard-port", "0"]);
        if (head && _autoscalingConfig is not null) args.AddRange(["--autoscaling-config", Path.GetFullPath(_autoscalingConfig)]);
        // A head node joins the GCS process when there is one; the other nodes always join the GCS.
        if (!head || _gcsStorage is not null) args.AddRange(["--address", Address]);
        if (resources is { Count: > 0 }) args.AddRange(["--resources", JsonSerializer.Serialize(resources)]);
        if (objectStoreMemory is { } bytes) args.AddRange(["--object-store-memory", bytes.ToString(CultureInfo.InvariantCulture)]);
        var (process, line) = StartProcess(args, NodeMain.ReadyMarker, token ?? Config.AuthToken!, "node");
        var fields = Fields(line);
        var node = new TestNode(NodeId.Parse(fields["node"]), process, head, fields["raylet"]);
        if (head && fields.TryGetValue("dashboard", out var dashboard)) DashboardUrl = dashboard;
        lock (_lock) _nodes.Add(node);
        return (node, fields["gcs"]);
    }

    private static Dictionary<string, string> Fields(string line) =>
        line.Split(' ').Skip(1).Select(f => f.Split('=', 2)).ToDictionary(f => f[0], f => f[1]);

    /// <summary>Starts this process's program in RaySharp's mode with <c>ARGS</c> (<see cref="WorkerCommand"/>) and waits for
    /// its ready line (<paramref name="marker"/>).</summary>
    private (Process Process, string ReadyLine) StartProcess(IEnumerable<string> args, string marker, ClusterToken token, string what)
    {
        string directory = AppContext.BaseDirectory;
        string program = WorkerCommand.ThisProgram(directory)
            ?? throw new InvalidOperationException($"This process's program cannot be started again to run a {what} process.");
        var psi = WorkerCommand.StartInfo(program, directory, _runtimeConfig, args);
        psi.RedirectStandardInput = true;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.WorkingDirectory = directory;
        psi.Environment[ClusterToken.Variable] = token.Value;
        var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start a {what} process.");
        var ready = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var errors = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.StartsWith(marker, StringComparison.Ordinal) == true) ready.TrySetResult(e.Data);
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (errors) errors.AppendLine(e.Data); };
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) =>
        {
            // The exit can be seen before the last lines of stderr are read: wait for the streams to end first.
            process.WaitForExit();
            string why;
            lock (errors) why = errors.ToString();
            ready.TrySetException(new InvalidOperationException($"The {what} process exited before it was ready (code {process.ExitCode}): {why}"));
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            return (process, ready.Task.WaitAsync(TimeSpan.FromSeconds(60)).GetAwaiter().GetResult());
        }
        catch (TimeoutException)
        {
            Kill(process);
            throw new InvalidOperationException($"The {what} process did not become ready within 60 s: {errors}");
        }
    }

    /// <summary>Removes a node. Not graceful: SIGKILL its raylet and workers at once (the GCS notices by missed
    /// health checks, as with a crashed machine). Graceful: stop it and unregister it from the GCS.</summary>
    public void RemoveNode(TestNode node, bool graceful = true)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (node.IsHead) throw new ArgumentException("The head node cannot be removed; dispose the cluster instead.", nameof(node));
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

    /// <summary>Kills the GCS process (SIGKILL, as a crash): the nodes, their workers and actors keep running, and calls
    /// to the GCS wait for it to come back (up to <c>gcs_rpc_server_reconnect_timeout_s</c>).</summary>
    /// <exception cref="NotSupportedException">The cluster has no <see cref="TestClusterOptions.GcsStorage"/>: its GCS
    /// shares the head node's process and keeps its tables in memory.</exception>
    public void KillGcs()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Process? gcs;
        lock (_lock)
        {
            RequireGcsProcess();
            gcs = _gcs;
            _gcs = null;
        }
        if (gcs is not null) Kill(gcs);
    }

    /// <summary>Starts the GCS again on the same port over the same storage (killing it first if it runs): it reloads its
    /// tables and the nodes, drivers and workers reconnect.</summary>
    /// <exception cref="NotSupportedException">The cluster has no <see cref="TestClusterOptions.GcsStorage"/>.</exception>
    public void RestartGcs()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_lock) RequireGcsProcess();
        KillGcs();
        StartGcs();
    }

    private void RequireGcsProcess()
    {
        if (_gcsStorage is null)
            throw new NotSupportedException("GCS fault injection needs the GCS in its own process with Redis storage: start the TestCluster with " +
                "TestClusterOptions.GcsStorage = \"redis://HOST:PORT\" (a RedisServer gives one).");
    }

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
            return new GcsClient(Address, Config).GetAllNodes(retry: false).Nodes.Count(n => n.Alive);
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
        Process? gcs;
        lock (_lock) (gcs, _gcs) = (_gcs, null);
        if (gcs is not null) Kill(gcs);
        // Killed nodes leave their shared-memory objects behind.
        NodeHost.DeleteStoreDirectories(_sessionDir);
        if (Address.Length > 0) RpcChannels.Forget(Address);
    }
}
