using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using RaySharp.Core;
using RaySharp.Core.Raylet;
using RaySharp.Core.Worker;

namespace RaySharp.Autoscaler.Providers;

/// <summary>
/// The <c>local</c> provider: each instance is a node process on this machine (this program in RaySharp's node mode, <c>node --address
/// GCS</c>) with its type's resources, joined to the head's session directory, started with
/// <c>RAY_CLOUD_INSTANCE_ID</c>/<c>RAY_NODE_TYPE_NAME</c> in its environment. Its stdin is a pipe from this process:
/// terminating closes it, so the node unregisters and stops its workers (killed if it has not within 10 s), and when the
/// autoscaler goes, its nodes go too. Instances live in this process's memory only.
/// </summary>
internal sealed class LocalNodeProvider : INodeProvider
{
    private sealed class LocalInstance(CloudInstance instance, Process process)
    {
        public CloudInstance Instance { get; set; } = instance;
        public Process Process { get; } = process;
    }

    /// <summary>How long a terminated node has to stop by itself before it is killed.</summary>
    internal static readonly TimeSpan GracefulStop = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, LocalInstance> _instances = [];
    private readonly string _gcsAddress;
    private readonly string _sessionDir;
    private readonly ClusterToken _token;
    private readonly ILogger _logger;
    private readonly string _runtimeDll;
    private int _next;

    /// <param name="gcsAddress">The cluster's GCS, which the nodes join.</param>
    /// <param name="sessionDir">The head's session directory (the nodes log there).</param>
    /// <param name="token">The cluster token, given to each node in its environment.</param>
    /// <param name="logger">The autoscaler's log.</param>
    public LocalNodeProvider(string gcsAddress, string sessionDir, ClusterToken token, ILogger logger)
    {
        _gcsAddress = gcsAddress;
        _sessionDir = sessionDir;
        _token = token;
        _logger = logger;
        _runtimeDll = typeof(NodeManager).Assembly.Location;
    }

    public Task<IReadOnlyList<CloudInstance>> ListInstancesAsync(CancellationToken ct)
    {
        lock (_lock)
        {
            foreach (var (id, i) in _instances.Where(i => i.Value.Process.HasExited).ToList())
            {
                _instances.Remove(id);
                if (i.Instance.State != CloudInstanceState.Terminating)
                    _logger.LogWarning("Local instance {InstanceId} ({NodeType}) exited by itself with code {Code}; see its log in {SessionDir}/logs",
                        id, i.Instance.NodeType, i.Process.ExitCode, _sessionDir);
                i.Process.Dispose();
            }
            return Task.FromResult<IReadOnlyList<CloudInstance>>([.. _instances.Values.Select(i => i.Instance)]);
        }
    }

    public Task LaunchAsync(NodeTypeConfig type, int count, CancellationToken ct)
    {
        for (int n = 0; n < count; n++)
        {
            string id;
            lock (_lock) id = $"local-{type.Name}-{++_next}";
            var process = Start(type, id);
            lock (_lock) _instances[id] = new LocalInstance(new CloudInstance(id, type.Name, CloudInstanceState.Running, DateTimeOffset.UtcNow), process);
            _logger.LogInformation("Launched local instance {InstanceId} of type {NodeType} (pid {Pid})", id, type.Name, process.Id);
        }
        return Task.CompletedTask;
    }

    /// <summary>The node command line of a type: CPU and GPU as their options, object store memory as its own, the rest
    /// (custom resources, memory) as <c>--resources</c>.</summary>
    internal static List<string> NodeArguments(NodeTypeConfig type, string gcsAddress, string sessionDir)
    {
        var args = new List<string> { "node", "--address", gcsAddress, "--session-dir", sessionDir, "--lifeline" };
        var custom = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (name, amount) in type.Resources)
        {
            string value = amount.ToString(CultureInfo.InvariantCulture);
            switch (name)
            {
                case ResourceSet.Cpu: args.AddRange(["--num-cpus", value]); break;
                case ResourceSet.Gpu: args.AddRange(["--num-gpus", value]); break;
                case ResourceSet.ObjectStoreMemory: args.AddRange(["--object-store-memory", ((long)amount).ToString(CultureInfo.InvariantCulture)]); break;
                default: custom[name] = amount; break;
            }
        }
        // A node given no CPU count takes the machine's: a type that names none offers none.
        if (!type.Resources.ContainsKey(ResourceSet.Cpu)) args.AddRange(["--num-cpus", "0"]);
        if (custom.Count > 0) args.AddRange(["--resources", JsonSerializer.Serialize(custom)]);
        return args;
    }

    private Process Start(NodeTypeConfig type, string instanceId)
    {
        // This process's own program (the autoscaler's assembly) started again in RaySharp's node mode, as nodes are.
        string directory = Path.GetDirectoryName(_runtimeDll)!;
        string program = WorkerCommand.ThisProgram(directory)
            ?? throw new InvalidOperationException("The autoscaler's program cannot be started again as a node.");
        var psi = WorkerCommand.StartInfo(program, directory, ProcessWorkerLauncher.WriteWorkerRuntimeConfig(_sessionDir),
            NodeArguments(type, _gcsAddress, _sessionDir));
        psi.RedirectStandardInput = psi.RedirectStandardOutput = psi.RedirectStandardError = true;
        psi.WorkingDirectory = directory;
        psi.Environment[ClusterToken.Variable] = _token.Value;
        psi.Environment[ProviderInstance.InstanceIdVariable] = instanceId;
        psi.Environment[ProviderInstance.NodeTypeVariable] = type.Name;
        var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start a node process for instance {instanceId}.");
        // The node logs to the session's raylet log; what it prints here is its ready line and a failure's last words.
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _logger.LogDebug("{InstanceId}: {Line}", instanceId, e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _logger.LogWarning("{InstanceId}: {Line}", instanceId, e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    public Task TerminateAsync(CloudInstance instance, CancellationToken ct)
    {
        LocalInstance? local;
        lock (_lock)
        {
            if (!_instances.TryGetValue(instance.InstanceId, out local) || local.Instance.State == CloudInstanceState.Terminating) return Task.CompletedTask;
            local.Instance = local.Instance with { State = CloudInstanceState.Terminating };
        }
        _logger.LogInformation("Terminating local instance {InstanceId} ({NodeType}, pid {Pid})", instance.InstanceId, instance.NodeType, local.Process.Id);
        // Closing its lifeline stops the node as SIGTERM does: it unregisters from the GCS and stops its workers.
        try { local.Process.StandardInput.Close(); } catch (IOException) { }
        _ = Task.Run(async () =>
        {
            using var timeout = new CancellationTokenSource(GracefulStop);
            try
            {
                await local.Process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _logger.LogWarning("Local instance {InstanceId} did not stop within {Seconds} s: killing it", instance.InstanceId, GracefulStop.TotalSeconds);
                Kill(local.Process);
            }
        }, CancellationToken.None);
        return Task.CompletedTask;
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    /// <summary>Stops every node this provider started.</summary>
    public async ValueTask DisposeAsync()
    {
        List<LocalInstance> all;
        lock (_lock)
        {
            all = [.. _instances.Values];
            _instances.Clear();
        }
        foreach (var i in all)
        {
            try { i.Process.StandardInput.Close(); } catch (IOException) { }
        }
        foreach (var i in all)
        {
            using var timeout = new CancellationTokenSource(GracefulStop);
            try
            {
                await i.Process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Kill(i.Process);
            }
            i.Process.Dispose();
        }
    }
}
