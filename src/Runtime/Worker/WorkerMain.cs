using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using Microsoft.Extensions.Logging;
using RaySharp.Core.Logging;
using RaySharp.Core.Rpc;
using RaySharp.Core.Stats;

namespace RaySharp.Core.Worker;

/// <summary>
/// The worker process (Ray's <c>default_worker</c>): started by a raylet as the job's own program with
/// <c>worker ...</c> in RaySharp's mode (<see cref="Raylet.WorkerCommand"/>; <c>StartupHook</c> calls <see cref="Main"/>). It
/// loads the job's assemblies (their generated module initializers register the remote functions), serves its core
/// worker over RPC, registers with the raylet, and runs the tasks pushed to it until it is told to exit or its raylet
/// goes away. Node and GCS processes start the same way, with <c>node ...</c> and <c>gcs ...</c>.
/// </summary>
internal static class WorkerMain
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "node") return NodeMain.Run(args);
        if (args.Length > 0 && args[0] == "gcs") return GcsMain.Run(args);
        if (args.Length == 0 || args[0] != "worker")
        {
            Console.Error.WriteLine("A program in RaySharp's worker mode runs a RaySharp worker, node or GCS, started by RaySharp (`worker --worker-id ...`). " +
                "Start a cluster with Ray.Init() or the raysharp command instead.");
            return 2;
        }
        var o = ParseOptions(args);
        try
        {
            return RunAsync(o).GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"[RaySharp worker {o["worker-id"]}] failed to start: {e}");
            return 1;
        }
    }

    private static Dictionary<string, string> ParseOptions(string[] args)
    {
        var o = new Dictionary<string, string>();
        for (int i = 1; i + 1 < args.Length; i += 2) o[args[i].TrimStart('-')] = args[i + 1];
        return o;
    }

    private static async Task<int> RunAsync(Dictionary<string, string> o)
    {
        var phases = new StartupPhases();
        var workerId = WorkerId.Parse(o["worker-id"]);
        var nodeId = NodeId.Parse(o["node-id"]);
        var jobId = JobId.Parse(o["job-id"]);
        string raylet = o["raylet"], gcs = o["gcs"], sessionDir = o["session-dir"];
        // Its node's address, which its raylet gives it (RAY_NODE_IP_ADDRESS): peers on other hosts reach it there.
        string host = o.TryGetValue("node-ip", out var ip) ? NodeIpAddress.Validate(ip, "--node-ip") : NodeIpAddress.FromEnvironment();
        // The worker's own log is logs/worker-<id>.log (its stdout and stderr are captured by the raylet beside it, as
        // .out and .err). Bad RAY_* values were already reported by the raylet whose environment it inherits.
        var (config, loggers) = RayLogging.StartProcess("worker " + workerId,
            new LogDestinations(Path.Combine(NodeHost.LogDir(sessionDir), $"worker-{workerId}.log"), SettingsProblemLevel: LogLevel.Information));
        phases.Mark("logging");
        // Its metrics go to its raylet, which exports them with the node's.
        var metrics = MetricsReporter.Start(workerId, raylet, config, loggers.CreateLogger(typeof(MetricsReporter).FullName!));
        // The raylet gone means this worker has no one to serve.
        Lifeline.Start(() => Exit(loggers, 0));
        CodeSearchPath.Load(o["code-search-path"]);
        // The runtime's own actors (the generator does not run on this assembly): a job supervisor may be leased here.
        Jobs.JobSupervisor.Functions.Register();
        phases.Mark("code");

        var handler = new CoreWorkerServiceHandler(nodeId);
        string socket = Path.Combine(sessionDir, "sockets", "w-" + workerId.ToString()[..12] + ".sock");
        await using var server = await RpcServer.StartAsync(host, 0, socket, [new CoreWorkerService(handler, config)], config, loggers).ConfigureAwait(false);
        phases.Mark("server");
        var gcsClient = new GcsClient(gcs, config, loggers.CreateLogger<GcsClient>());
        var rayletClient = new RayletRpcClient(raylet, gcsClient, nodeId, jobId, config, loggers) { Holder = workerId };
        rayletClient.HolderAddress = () => CoreWorker.CurrentOrNull?.Address;
        // Deaths of nodes and workers reach this worker's connections for as long as it lives.
        using var events = ClusterEventStream.Start(gcsClient, rayletClient, loggers.CreateLogger<RayletRpcClient>());
        var state = new GcsStateSource(gcsClient);
        var core = new CoreWorker(jobId, o["namespace"], null, config, loggers, w => new WorkerConnections(
            rayletClient, new GcsActorClient(gcsClient, w), server.Endpoint, socket,
            new OwnershipRpcClient(nodeId, config, loggers.CreateLogger<CoreWorkerConnection>()), TaskEvents: state, State: state,
            ObjectStore: new ObjectStoreRpcClient(raylet, nodeId, workerId, config, loggers.CreateLogger<ObjectStoreRpcClient>()),
            PlacementGroups: new GcsPlacementGroupClient(gcsClient, jobId, () => w.Address)),
            workerId);
        CoreWorker.SetCurrent(core);
        handler.Serve(core, new TaskReceiver(core.Executor, core.Raylet, workerId), gcsClient, collectWhenIdle: true);
        phases.Mark("core worker");
        if (!await RayletRpc.RegisterWorkerAsync(config, raylet, new RegisterWorkerRequest(workerId, Environment.ProcessId, core.Address))
            .ConfigureAwait(false))
        {
            loggers.Dispose();
            return 3;
        }
        phases.Mark("registered");
        phases.Log(loggers.CreateLogger(typeof(WorkerMain).FullName!));
        await handler.Exited.Task.ConfigureAwait(false);
        // Its last counts reach the node before it goes.
        metrics.Dispose();
        // Exit without waiting for user threads: a force-cancelled task may still be running.
        Exit(loggers, 0);
        return 0;
    }

    /// <summary>Ends the worker process, flushing its output and log file first.</summary>
    private static void Exit(ILoggerFactory loggers, int code)
    {
        try
        {
            loggers.Dispose();
        }
        catch (Exception)
        {
            // Exiting regardless.
        }
        Console.Out.Flush();
        Environment.Exit(code);
    }
}

/// <summary>How long each step of a worker's start took, from the process's start (the runtime's own start-up before
/// RaySharp's hook runs is the first step): logged once the worker has registered.</summary>
internal sealed partial class StartupPhases
{
    private readonly DateTime _processStart = GetProcessStart();
    private readonly System.Text.StringBuilder _text = new();
    private DateTime _last;

    public StartupPhases()
    {
        _last = _processStart;
        Mark("runtime");
    }

    private static DateTime GetProcessStart()
    {
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        return self.StartTime.ToUniversalTime();
    }

    public void Mark(string phase)
    {
        var now = DateTime.UtcNow;
        _text.Append(System.Globalization.CultureInfo.InvariantCulture, $"{(_text.Length > 0 ? ", " : "")}{phase} {(now - _last).TotalMilliseconds:0} ms");
        _last = now;
    }

    public void Log(ILogger logger) => LogStarted(logger, (_last - _processStart).TotalMilliseconds, _text.ToString());

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker started in {Total:0} ms: {Phases}")]
    private static partial void LogStarted(ILogger logger, double total, string phases);
}

/// <summary>Loads the job's code search path into the worker: every assembly there that references RaySharp is
/// loaded and its module initializer run, which registers its remote functions; the others resolve on demand. The
/// program's entry assembly and the assemblies it references that reference RaySharp are loaded too: a single-file
/// app has them in its bundle, not in the directory.</summary>
internal static class CodeSearchPath
{
    public static void Load(string directory)
    {
        LoadDirectory(directory);
        if (Assembly.GetEntryAssembly() is { } entry) LoadReferencing(entry, typeof(CodeSearchPath).Assembly.GetName().Name!);
    }

    /// <summary>From <paramref name="root"/> down, each assembly that references the runtime gets its module initializer run,
    /// and its own references are followed (loading them from wherever the program keeps them).</summary>
    private static void LoadReferencing(Assembly root, string runtimeName)
    {
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { runtimeName };
        var pending = new Stack<Assembly>();
        if (seen.Add(root.GetName().Name!)) pending.Push(root);
        while (pending.TryPop(out var assembly))
        {
            var references = assembly.GetReferencedAssemblies();
            if (!references.Any(r => r.Name == runtimeName)) continue;
            RuntimeHelpers.RunModuleConstructor(assembly.ManifestModule.ModuleHandle);
            foreach (var reference in references)
            {
                if (reference.Name is null || !seen.Add(reference.Name)) continue;
                try
                {
                    pending.Push(AssemblyLoadContext.Default.LoadFromAssemblyName(reference));
                }
                catch (Exception e) when (e is FileLoadException or BadImageFormatException or FileNotFoundException)
                {
                    // A reference the program never loads (compile-time only): nothing of it can run here.
                }
            }
        }
    }

    private static void LoadDirectory(string directory)
    {
        AssemblyLoadContext.Default.Resolving += (context, name) =>
        {
            string candidate = Path.Combine(directory, name.Name + ".dll");
            return File.Exists(candidate) ? context.LoadFromAssemblyPath(candidate) : null;
        };
        string runtimeName = typeof(CodeSearchPath).Assembly.GetName().Name!;
        foreach (var path in Directory.EnumerateFiles(directory, "*.dll"))
        {
            if (!ReferencesRuntime(path, runtimeName)) continue;
            Assembly assembly;
            try
            {
                var name = AssemblyName.GetAssemblyName(path);
                assembly = AssemblyLoadContext.Default.LoadFromAssemblyName(name);
            }
            catch (Exception e) when (e is FileLoadException or BadImageFormatException or FileNotFoundException)
            {
                continue;
            }
            RuntimeHelpers.RunModuleConstructor(assembly.ManifestModule.ModuleHandle);
        }
    }

    /// <summary>Reads the assembly's references from its metadata without loading it.</summary>
    private static bool ReferencesRuntime(string path, string runtimeName)
    {
        try
        {
            using var stream = File.OpenRead(path);
            using var pe = new PEReader(stream);
            if (!pe.HasMetadata) return false;
            var md = pe.GetMetadataReader();
            foreach (var handle in md.AssemblyReferences)
                if (md.GetString(md.GetAssemblyReference(handle).Name) == runtimeName) return true;
            return false;
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }
}
