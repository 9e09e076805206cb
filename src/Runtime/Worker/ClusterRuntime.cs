using Microsoft.Extensions.Logging;
using RaySharp.Core.Gcs;
using RaySharp.Core.Jobs;
using RaySharp.Core.LocalMode;
using RaySharp.Core.Logging;
using RaySharp.Core.Raylet;
using RaySharp.Core.Rpc;
using RaySharp.Core.Stats;

namespace RaySharp.Core.Worker;

/// <summary>How a node's components are reached: over gRPC (TCP and a Unix socket), or in process (local mode).</summary>
/// <param name="Serve">Starts the node's RPC host for the given services.</param>
/// <param name="Launcher">Starts the node's workers, given the node's log monitor (null in local mode, where workers are
/// threads whose output is the driver's own).</param>
internal sealed record NodeTransport(Func<IReadOnlyList<IRpcService>, string, Task<IRpcHost>> Serve,
    Func<LogMonitor?, IWorkerLauncher> Launcher)
{
    /// <summary>gRPC on <paramref name="host"/> (port <paramref name="port"/> for the head's GCS, 0 for any), a Unix
    /// socket in the session directory, and worker processes. Kestrel logs through <paramref name="loggers"/>.
    /// The node's servers check, and its workers get, the cluster token of <paramref name="config"/>.</summary>
    public static NodeTransport Grpc(string sessionDir, string host, int port, RayConfig config, ILoggerFactory loggers) => new(
        async (services, name) =>
        {
            SessionFiles.CreatePrivateDirectory(Path.Combine(sessionDir, "sockets"));
            string socket = Path.Combine(sessionDir, "sockets", name + ".sock");
            return await RpcServer.StartAsync(host, port, socket, services, config, loggers).ConfigureAwait(false);
        },
        logs => new ProcessWorkerLauncher(sessionDir, logs ?? throw new ArgumentNullException(nameof(logs), "Worker processes need the node's log monitor."),
            host, config.AuthToken));
}

/// <summary>A node's components hosted in this process: the GCS (head node only), the raylet, and one RPC host for
/// both (plus, for a driver on the node, the driver's own core worker service).</summary>
internal sealed class NodeHost : IAsyncDisposable
{
    private NodeHost(IRpcHost server, NodeManager raylet, GcsServer? gcs, string gcsEndpoint, MetricsExporter? metrics)
    {
        Server = server;
        Raylet = raylet;
        Gcs = gcs;
        GcsEndpoint = gcsEndpoint;
        Metrics = metrics;
    }

    /// <summary>The node's Prometheus endpoint, when it exports one.</summary>
    public MetricsExporter? Metrics { get; }

    public IRpcHost Server { get; }
    public NodeManager Raylet { get; }
    public GcsServer? Gcs { get; }
    public string GcsEndpoint { get; }
    public string RayletLocalEndpoint => Raylet.Socket is { } s ? "unix:" + s : Raylet.Endpoint;

    /// <summary>Starts a node. With <paramref name="gcsAddress"/> null it is a head node hosting the GCS; otherwise it
    /// joins the GCS at that address (as the head node when <paramref name="isHead"/>: the GCS runs in a process of its
    /// own). Its components log through <paramref name="loggers"/>, the process's factory. With
    /// <paramref name="metricsExportPort"/> (0: a free port) it serves Prometheus metrics there and advertises the port
    /// in its registration. <paramref name="instance"/> names the autoscaler's instance and node type this node runs as.</summary>
    public static async Task<NodeHost> StartAsync(ResourceSet resources, string? gcsAddress, NodeTransport transport, RayConfig config,
        ILoggerFactory loggers, IReadOnlyList<IRpcService>? extraServices = null, NodeId? nodeId = null, string? sessionDir = null,
        CancellationToken ct = default, bool? isHead = null, int? metricsExportPort = null, ProviderInstance? instance = null)
    {
        var id = nodeId ?? NodeId.FromRandom();
        // An exporting node counts from its start: the collector enables the instruments before any component records.
        if (metricsExportPort is not null) _ = MetricsCollector.Process;
        var gcs = gcsAddress is null ? new GcsServer(config, loggers) : null;
        bool head = isHead ?? gcs is not null;
        NodeManager? raylet = null;
        var logs = sessionDir is null ? null : new LogMonitor(LogDir(sessionDir), batch => raylet?.PublishLogs(batch), config,
            () => OwnLogFiles(sessionDir, id, head), loggers.CreateLogger<LogMonitor>());
        var launcher = transport.Launcher(logs);
        var store = CreateStore(resources, id, sessionDir, config, loggers);
        raylet = new NodeManager(id, resources, isHead: isHead ?? gcs is not null, config, loggers, launcher, store, sessionDir)
        {
            Logs = logs, InstanceId = instance?.InstanceId, NodeTypeName = instance?.NodeTypeName,
        };
        var services = new List<IRpcService> { raylet.Service };
        if (gcs is not null) services.Add(gcs.Service);
        services.AddRange(extraServices ?? []);
        IRpcHost? server = null;
        MetricsExporter? metrics = null;
        try
        {
            server = await transport.Serve(services, "raylet-" + id.ToString()[..8]).ConfigureAwait(false);
            if (metricsExportPort is { } port)
            {
                metrics = await MetricsExporter.StartAsync(ClusterMetrics.HostOf(server.Endpoint), port, raylet.Metrics.Collect, loggers, ct)
                    .ConfigureAwait(false);
                raylet.MetricsExportPort = metrics.Port;
            }
            await raylet.StartAsync(new GcsClient(gcsAddress ?? server.Endpoint, config, loggers.CreateLogger<GcsClient>()), server.Endpoint, server.Socket, ct).ConfigureAwait(false);
        }
        catch
        {
            raylet.Dispose();
            logs?.Dispose();
            gcs?.Dispose();
            if (metrics is not null) await metrics.DisposeAsync().ConfigureAwait(false);
            if (server is not null) await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return new NodeHost(server, raylet, gcs, raylet.GcsEndpoint, metrics);
    }

    /// <summary>The files of the session's log directory a node lists besides its workers': its raylet's log and, on the
    /// head node, the GCS's and the drivers' (an embedded cluster's driver logs beside them).</summary>
    private static IEnumerable<string> OwnLogFiles(string sessionDir, NodeId nodeId, bool head)
    {
        yield return Path.GetFileName(RayletLogFile(sessionDir, nodeId, head));
        if (!head) yield break;
        yield return Path.GetFileName(GcsLogFile(sessionDir));
        string dir = LogDir(sessionDir);
        if (!Directory.Exists(dir)) yield break;
        foreach (var driver in Directory.EnumerateFiles(dir, "driver-*.log")) yield return Path.GetFileName(driver);
    }

    /// <summary>
    /// The node's object store: objects in <c>/dev/shm/raysharp-&lt;session&gt;-&lt;node&gt;</c> (shared memory every process of
    /// the node maps), falling back to <c>&lt;session&gt;/object_store/&lt;node&gt;</c> on disk when /dev/shm runs out, and
    /// spilling to <c>&lt;session&gt;/spill/&lt;node&gt;</c>. Its capacity is the node's <c>object_store_memory</c>.
    /// </summary>
    internal static PlasmaStore CreateStore(ResourceSet resources, NodeId nodeId, string? sessionDir, RayConfig config, ILoggerFactory loggers)
    {
        string node = nodeId.ToString()[..8];
        string session = sessionDir is null ? $"local-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}" : Path.GetFileName(sessionDir);
        string disk = sessionDir ?? Path.Combine(Path.GetTempPath(), "raysharp", session);
        var options = new PlasmaStoreOptions((long)resources[ResourceSet.ObjectStoreMemory], Path.Combine(SharedMemoryRoot, $"{StorePrefix}{session}-{node}"),
            Path.Combine(disk, "object_store", node), Path.Combine(disk, "spill", node))
        {
            MinSpillingSize = config.MinSpillingSize,
            FullGracePeriod = config.ObjectStoreFullGracePeriod,
            OwnedRoot = sessionDir is null ? disk : null,
        };
        return new PlasmaStore(options, null, loggers.CreateLogger<PlasmaStore>());
    }

    private const string StorePrefix = "raysharp-";

    /// <summary>Where nodes allocate their objects: shared memory when the machine has it.</summary>
    private static string SharedMemoryRoot => Directory.Exists("/dev/shm") ? "/dev/shm" : Path.Combine(Path.GetTempPath(), "raysharp-shm");

    /// <summary>Deletes the shared-memory directories of the nodes of <paramref name="sessionDir"/> (their processes are
    /// gone: killed nodes cannot clean up after themselves).</summary>
    internal static void DeleteStoreDirectories(string sessionDir) => DeleteStoreDirectories(d => d.Name.StartsWith(
        StorePrefix + Path.GetFileName(sessionDir) + "-", StringComparison.Ordinal));

    /// <summary>Deletes shared-memory directories left by processes that died without cleaning up: those of sessions
    /// whose processes are all gone, and those of local-mode drivers that are gone.</summary>
    internal static void PruneStoreDirectories(string sessionRoot) => DeleteStoreDirectories(d =>
    {
        string name = d.Name[StorePrefix.Length..];
        var parts = name.Split('-');
        if (name.StartsWith("local-", StringComparison.Ordinal))
            return parts.Length >= 2 && int.TryParse(parts[1], out int driver) && !ProcessAlive(driver);
        if (!name.StartsWith("session_", StringComparison.Ordinal)) return false;
        string session = name[..name.LastIndexOf('-')];
        var fields = session.Split('_');
        if (fields.Length < 4 || !int.TryParse(fields[3], out int pid) || ProcessAlive(pid)) return false;
        var dir = new DirectoryInfo(Path.Combine(sessionRoot, session));
        return !dir.Exists || !UsedByLiveProcess(dir);
    });

    private static void DeleteStoreDirectories(Func<DirectoryInfo, bool> which)
    {
        try
        {
            var root = new DirectoryInfo(SharedMemoryRoot);
            if (!root.Exists) return;
            foreach (var d in root.GetDirectories(StorePrefix + "*").Where(which))
            {
                try { d.Delete(recursive: true); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>A new session directory (logs, sockets) under <paramref name="tempDir"/> (default: the system temp dir).</summary>
    public static string NewSessionDir(string? tempDir)
    {
        string root = tempDir ?? Path.Combine(Path.GetTempPath(), "raysharp");
        string dir = Path.Combine(root, $"session_{DateTime.Now:yyyyMMdd_HHmmss}_{Environment.ProcessId}_{Random.Shared.Next(0x10000):x4}");
        // Owner only: the session holds the cluster token, the sockets and the logs.
        SessionFiles.CreatePrivateDirectory(dir);
        SessionFiles.CreatePrivateDirectory(LogDir(dir));
        SessionFiles.CreatePrivateDirectory(Path.Combine(dir, "sockets"));
        PruneSessionDirs(root, dir, KeepSessions);
        PruneStoreDirectories(root);
        try
        {
            // Ray's session_latest: the newest session, for a person looking for the logs.
            string latest = Path.Combine(root, "session_latest");
            if (new DirectoryInfo(latest).LinkTarget is not null) Directory.Delete(latest); // removes the link only
            Directory.CreateSymbolicLink(latest, dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            // Only a convenience.
        }
        return dir;
    }

    /// <summary>Session directories kept when a new one is made (the newest ones).</summary>
    internal const int KeepSessions = 5;

    /// <summary>Deletes old <c>session_*</c> directories under <paramref name="root"/> beyond the newest
    /// <paramref name="keep"/>, only those whose creating process (the pid in the name) is gone: a running cluster's
    /// session is never touched. Failures are ignored (another process may be pruning too).</summary>
    internal static void PruneSessionDirs(string root, string current, int keep)
    {
        try
        {
            var old = new DirectoryInfo(root).GetDirectories("session_*")
                .Where(d => d.LinkTarget is null && d.FullName != Path.GetFullPath(current))
                .OrderByDescending(d => d.Name, StringComparer.Ordinal).Skip(Math.Max(0, keep - 1)); // named by their start time
            foreach (var d in old)
            {
                var parts = d.Name.Split('_');
                if (parts.Length < 4 || !int.TryParse(parts[3], out int pid) || ProcessAlive(pid) || UsedByLiveProcess(d)) continue;
                try { d.Delete(recursive: true); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Records that this process uses <paramref name="sessionDir"/>, so pruning keeps it while the process lives
    /// even when the directory is named after another process (a node started by <c>raysharp start</c>).</summary>
    internal static void MarkSessionInUse(string sessionDir)
    {
        try
        {
            string dir = Path.Combine(sessionDir, "pids");
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)), "");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Only protects the directory from pruning by other processes.
        }
    }

    private static bool UsedByLiveProcess(DirectoryInfo session)
    {
        try
        {
            string dir = Path.Combine(session.FullName, "pids");
            return Directory.Exists(dir) && Directory.EnumerateFiles(dir)
                .Any(f => int.TryParse(Path.GetFileName(f), out int pid) && ProcessAlive(pid));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return true; // unsure: keep it
        }
    }

    private static bool ProcessAlive(int pid)
    {
        if (pid == Environment.ProcessId) return true;
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>The log directory of a session, <c>&lt;session&gt;/logs</c>.</summary>
    public static string LogDir(string sessionDir) => Path.Combine(sessionDir, "logs");

    /// <summary>The GCS's log file: <c>raysharp-gcs.log</c>.</summary>
    public static string GcsLogFile(string sessionDir) => Path.Combine(LogDir(sessionDir), "raysharp-gcs.log");

    /// <summary>A raylet's log file: <c>raylet.log</c> for the head node's raylet, <c>raylet-&lt;node id, 8 hex
    /// digits&gt;.log</c> for the others (several nodes may share one session directory, as a TestCluster's do).</summary>
    public static string RayletLogFile(string sessionDir, NodeId nodeId, bool head) =>
        Path.Combine(LogDir(sessionDir), head ? "raylet.log" : $"raylet-{nodeId.ToString()[..8]}.log");

    /// <summary>Where a process hosting a node logs: the GCS's categories to <see cref="GcsLogFile"/> (head only), the
    /// raylet's to <paramref name="rayletFile"/>, everything else to <paramref name="defaultFile"/>.</summary>
    public static LogDestinations NodeLogs(string sessionDir, string rayletFile, string defaultFile, bool head)
    {
        var routes = new List<KeyValuePair<string, string>> { new(typeof(NodeManager).Namespace!, rayletFile) };
        if (head) routes.Add(new(typeof(GcsServer).Namespace!, GcsLogFile(sessionDir)));
        return new LogDestinations(defaultFile, routes);
    }

    public async ValueTask DisposeAsync()
    {
        Raylet.Dispose();
        // After the workers are gone: their last output reaches the drivers.
        Raylet.Logs?.Dispose();
        Gcs?.Dispose();
        if (Metrics is not null) await Metrics.DisposeAsync().ConfigureAwait(false);
        await Server.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>Starts a driver's core worker: on a node of its own in this process (the embedded cluster of
/// <c>Ray.Init()</c>, or local mode, where the node is reached in process and its workers are threads), or on a
/// running cluster named by an address.</summary>
internal static class ClusterDriver
{
    /// <summary>The driver process's composition root: its loggers (<c>logs/driver-&lt;pid&gt;.log</c> with, for the
    /// embedded cluster, <c>raylet.log</c> and <c>raysharp-gcs.log</c>; the console only in local mode; a host's logger
    /// factory in place of the console when RaySharp.Hosting started it), its
    /// configuration, and its components. The loggers are disposed when the driver shuts down.</summary>
    public static CoreWorker Start(RayOptions options, string? address)
    {
        string? sessionDir = options.LocalMode ? null : NodeHost.NewSessionDir(options.TempDir);
        var nodeId = NodeId.FromRandom();
        LogDestinations destinations;
        if (sessionDir is null) destinations = LogDestinations.ConsoleOnly;
        else
        {
            string driverLog = Path.Combine(NodeHost.LogDir(sessionDir), $"driver-{Environment.ProcessId}.log");
            destinations = address is null
                ? NodeHost.NodeLogs(sessionDir, NodeHost.RayletLogFile(sessionDir, nodeId, head: true), driverLog, head: true)
                : new LogDestinations(driverLog);
        }
        var (config, loggers) = RayLogging.StartProcess("driver", destinations with { Host = options.HostLoggerFactory });
        try
        {
            config = config with { AuthToken = DriverToken(options, address, config.AuthToken) };
            return Start(options, address, sessionDir, nodeId, config, loggers);
        }
        catch
        {
            loggers.Dispose();
            throw;
        }
    }

    /// <summary>The cluster token of a driver: a new one per <c>Init</c> for local mode and the embedded cluster (unless
    /// <c>RAY_AUTH_TOKEN</c> gives one); for a cluster named by address, <c>RAY_AUTH_TOKEN</c> or, on the head's
    /// machine, the token its head node wrote to its session directory.</summary>
    private static ClusterToken DriverToken(RayOptions options, string? address, ClusterToken? fromEnvironment)
    {
        if (options.LocalMode) return ClusterToken.Generate();
        if (address is null) return fromEnvironment ?? ClusterToken.Generate();
        return fromEnvironment ?? ClusterToken.FindLocal(GcsAddress(address), options.TempDir) ?? ClusterToken.FindLocal(GcsAddress(address))
            ?? throw new InvalidOperationException(
                $"Authentication: no cluster token for the RaySharp cluster at '{address}'. Set {ClusterToken.Variable} to the token in " +
                $"the head node's <session dir>/{ClusterToken.FileName} (processes on the head's machine find it themselves).");
    }

    private static string GcsAddress(string address) => address.StartsWith("ray://", StringComparison.Ordinal) ? address["ray://".Length..] : address;

    private static CoreWorker Start(RayOptions options, string? address, string? sessionDir, NodeId embeddedNodeId, RayConfig config,
        ILoggerFactory loggers)
    {
        var handler = new CoreWorkerServiceHandler(default);
        var driverService = new CoreWorkerService(handler, config);
        NodeHost? embedded = null;
        DashboardProcess? dashboard = null;
        IRpcHost? ownServer = null;
        string raylet, endpoint;
        string? socket;
        NodeId nodeId;
        GcsClient gcs;
        ThreadWorkerLauncher? threads = null;
        var resources = CoreWorkerFactory.NodeResources(options);
        if (options.LocalMode)
        {
            var transport = new NodeTransport((services, name) => Task.FromResult<IRpcHost>(InProcessTransport.Start(name, services, config.AuthToken!)),
                _ => threads = new ThreadWorkerLauncher());
            embedded = NodeHost.StartAsync(resources, null, transport, config, loggers, [driverService], embeddedNodeId).GetAwaiter().GetResult();
        }
        else if (address is null)
        {
            embedded = NodeHost.StartAsync(resources, null, NodeTransport.Grpc(sessionDir!, "127.0.0.1", 0, config, loggers), config, loggers, [driverService],
                embeddedNodeId, sessionDir).GetAwaiter().GetResult();
            config.AuthToken!.WriteToSession(sessionDir!, embedded.GcsEndpoint);
            if (EmbeddedDashboardPort(options) is { } port)
                dashboard = DashboardProcess.StartAsync(embedded.GcsEndpoint, "127.0.0.1", port, sessionDir!, config.AuthToken,
                    loggers.CreateLogger("RaySharp.Dashboard")).GetAwaiter().GetResult();
        }
        if (embedded is not null)
        {
            gcs = new GcsClient(embedded.GcsEndpoint, config, loggers.CreateLogger<GcsClient>());
            // Tells this process's GCS clients that this GCS keeps its tables in memory: once it is gone, calls fail at once.
            gcs.GetAllNodes(retry: false);
            raylet = embedded.RayletLocalEndpoint;
            nodeId = embedded.Raylet.NodeId;
            endpoint = embedded.Server.Endpoint;
            socket = embedded.Raylet.Socket;
        }
        else
        {
            gcs = new GcsClient(GcsAddress(address!), config, loggers.CreateLogger<GcsClient>());
            var nodes = Reach(gcs, address, g => g.GetAllNodes(retry: false)).Nodes.Where(n => n.Alive).ToList();
            if (nodes.Count == 0) throw new InvalidOperationException($"The cluster at {address} has no alive node to run a driver on.");
            // The driver binds and advertises this machine's address on the route to the GCS (or RAY_NODE_IP_ADDRESS), and
            // uses a node of this machine: it shares that node's object store (Ray's driver needs a local raylet too).
            string ip = NodeIpAddress.FromEnvironment(() => NodeIpAddress.RouteTo(NodeIpAddress.HostOf(GcsAddress(address!))));
            var node = nodes.Where(n => NodeIpAddress.HostOf(n.RayletEndpoint) == ip).OrderByDescending(n => n.IsHead).FirstOrDefault()
                ?? throw new InvalidOperationException(
                    $"No node of the cluster at {address} runs on this machine ({ip}): its nodes are at " +
                    $"{string.Join(", ", nodes.Select(n => NodeIpAddress.HostOf(n.RayletEndpoint)).Distinct())}. A driver uses the object store of " +
                    $"a node on its own machine: start one here (raysharp start --address {GcsAddress(address!)} --node-ip-address {ip}), or set " +
                    $"{NodeIpAddress.Variable} if this machine is one of those addresses.");
            nodeId = node.NodeId;
            raylet = node.RayletSocket is { } s && File.Exists(s) ? "unix:" + s : node.RayletEndpoint;
            socket = Path.Combine(sessionDir!, "driver.sock");
            ownServer = RpcServer.StartAsync(ip, 0, socket, [driverService], config, loggers).GetAwaiter().GetResult();
            endpoint = ownServer.Endpoint;
        }
        var jobId = Reach(gcs, address, g => g.GetNextJobId());
        string codeSearchPath = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        string ns = options.Namespace ?? Guid.NewGuid().ToString("N");
        // The job's working dir travels as a package in the GCS: this driver uploads its own, or a submitted job's driver
        // takes the package its supervisor unpacked (JobSubmissionEnvironment).
        var uploader = options.LocalMode ? null : new Packaging.WorkingDirUploader(gcs, config);
        var jobEnv = options.RuntimeEnv;
        if (uploader is not null && jobEnv?.WorkingDir is { } workingDir) jobEnv = jobEnv with { WorkingDir = uploader.Upload(workingDir) };
        else if (!options.LocalMode && JobSubmissionEnvironment.WorkingDirUri is { } submitted) jobEnv = (jobEnv ?? new RuntimeEnv()) with { WorkingDir = submitted };
        IDisposable? logs = null, watch = null, events = null, metrics = null;
        var worker = new CoreWorker(jobId, ns, jobEnv, config, loggers, w =>
        {
            threads?.Attach(w, gcs);
            Reach(gcs, address, g =>
            {
                g.AddJob(new JobRecord
                {
                    JobId = jobId, Namespace = ns, CodeSearchPath = codeSearchPath, WorkerProgram = WorkerCommand.ThisProgram(codeSearchPath),
                    Driver = new Address(w.WorkerId, nodeId, endpoint) { Socket = socket }, DriverProcessId = Environment.ProcessId,
                    EnvVars = options.RuntimeEnv?.EnvVars is { Count: > 0 } env ? new Dictionary<string, string>(env) : null,
                    WorkingDirUri = Packaging.WorkingDirPackage.IsUri(jobEnv?.WorkingDir) ? jobEnv!.WorkingDir : null,
                    SubmissionId = JobSubmissionEnvironment.SubmissionId,
                });
                return true;
            });
            // Local mode's workers are threads of this process: their output is already on this console.
            if (!options.LocalMode) logs = DriverLogStream.Start(gcs, jobId, config.LogMonitorPollInterval * 2 + TimeSpan.FromMilliseconds(100),
                loggers.CreateLogger<DriverLogStream>());
            // A driver that joined a cluster can die alone; the GCS finishes its job when this watch breaks. (Local
            // mode's and the embedded cluster's GCS live and die with the driver.)
            if (embedded is null) watch = DriverWatch.Start(gcs, jobId);
            // A driver on a cluster reports its metrics (the tasks it owns) to its node; an embedded node exports them itself.
            if (embedded is null) metrics = MetricsReporter.Start(w.WorkerId, raylet, config, loggers.CreateLogger(typeof(MetricsReporter).FullName!));
            var rayletClient = new RayletRpcClient(raylet, gcs, nodeId, jobId, config, loggers) { Holder = w.WorkerId, HolderAddress = () => w.Address };
            events = ClusterEventStream.Start(gcs, rayletClient, loggers.CreateLogger<RayletRpcClient>());
            var state = new GcsStateSource(gcs);
            return new WorkerConnections(rayletClient, new GcsActorClient(gcs, w), endpoint, socket,
                new OwnershipRpcClient(nodeId, config, loggers.CreateLogger<CoreWorkerConnection>()), WorkersShareProcess: options.LocalMode,
                TaskEvents: state, State: state,
                ObjectStore: new ObjectStoreRpcClient(raylet, nodeId, w.WorkerId, config, loggers.CreateLogger<ObjectStoreRpcClient>()),
                PlacementGroups: new GcsPlacementGroupClient(gcs, jobId, () => w.Address), OnDispose: () =>
                {
                    // First, while the job's workers live: what they printed last reaches this console.
                    logs?.Dispose();
                    gcs.MarkJobFinished(jobId, TimeSpan.FromSeconds(5));
                    metrics?.Dispose();
                    events?.Dispose();
                    watch?.Dispose();
                    dashboard?.Dispose();
                    embedded?.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(10));
                    ownServer?.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(5));
                    // Last: flushes the log files.
                    loggers.Dispose();
                });
        });
        handler.Worker = worker;
        if (uploader is not null) worker.WorkingDirUploader = uploader.Upload;
        return worker;
    }

    /// <summary>The port of an embedded cluster's dashboard: <see cref="RayOptions.DashboardPort"/>, else
    /// <c>RAY_DASHBOARD_PORT</c>; null for none.</summary>
    private static int? EmbeddedDashboardPort(RayOptions options)
    {
        if (options.DashboardPort is { } port)
            return port is >= 0 and <= 65535 ? port : throw new ArgumentException($"RayOptions.DashboardPort {port} is not a port number (0: any free port).");
        string? variable = Environment.GetEnvironmentVariable("RAY_DASHBOARD_PORT");
        if (string.IsNullOrWhiteSpace(variable)) return null;
        return int.TryParse(variable, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int p) && p <= 65535 ? p
            : throw new ArgumentException($"RAY_DASHBOARD_PORT='{variable}' is not a port number (0: any free port).");
    }

    /// <summary>A first call to the cluster, turning an unreachable GCS into an error that says what to check.</summary>
    private static T Reach<T>(GcsClient gcs, string? address, Func<GcsClient, T> call)
    {
        try
        {
            return call(gcs);
        }
        catch (RayException e) when (address is not null && e.InnerException is Grpc.Core.RpcException { StatusCode: Grpc.Core.StatusCode.Unauthenticated })
        {
            throw new InvalidOperationException(
                $"Authentication failed: the RaySharp cluster at '{address}' refused this driver's cluster token. {e.Message}", e);
        }
        catch (RayException e) when (address is not null)
        {
            throw new InvalidOperationException(
                $"Cannot reach the RaySharp cluster at '{address}': {e.Message} " +
                "Check that `raysharp start --head` is running there and that the address (RayOptions.Address or RAY_ADDRESS) is host:port.", e);
        }
    }
}
