using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using RaySharp.Core;
using RaySharp.Core.Gcs;
using RaySharp.Core.Raylet;
using RaySharp.Core.Worker;

namespace RaySharp.Cli;

/// <summary><c>raysharp start</c> and <c>raysharp stop</c> (API.md §8): cluster nodes in background processes of this
/// machine, recorded in <see cref="NodeRecords"/>.</summary>
internal static class NodeCommands
{
    private sealed class StartOptions
    {
        public readonly Option<bool> Head = new("--head") { Description = "start a head node: it hosts the GCS (and the dashboard)" };
        public readonly Option<string?> Address = new("--address")
        {
            Description = "join the cluster whose GCS is at HOST:PORT (default: RAY_ADDRESS)", HelpName = "HOST:PORT",
        };
        public readonly Option<int?> Port = CliOptions.Port("--port", "the GCS port of a head node (default 6379; 0 picks a free one)");
        public readonly Option<double?> NumCpus = CliOptions.Amount("--num-cpus", "CPUs this node offers (default: the machine's)");
        public readonly Option<double?> NumGpus = CliOptions.Amount("--num-gpus", "GPUs this node offers (default 0)");
        public readonly Option<string?> Resources = new Option<string?>("--resources")
        {
            Description = """custom resources as a JSON object, e.g. '{"gpu_a": 1}'""", HelpName = "JSON",
        }.CheckedBy(json => NodeMain.ParseResources(json));
        public readonly Option<long?> ObjectStoreMemory = CliOptions.ByteCount("--object-store-memory", "the size of this node's object store");
        public readonly Option<string?> GcsStorage = new Option<string?>("--gcs-storage")
        {
            Description = "head only: run the GCS in a process of its own that keeps its tables in Redis (restarted, it reloads them)",
            HelpName = "redis://HOST:PORT",
        }.CheckedBy(url => RedisGcsTableStorage.ParseAddress(url));
        public readonly Option<string?> NodeIp = new Option<string?>("--node-ip-address", "--node-ip")
        {
            Description = $"this host's address, which the node listens on and tells other hosts (default: {NodeIpAddress.Variable}, else 127.0.0.1)",
            HelpName = "IP",
        }.CheckedBy(ip => NodeIpAddress.Validate(ip));
        public readonly Option<string> DashboardHost = new("--dashboard-host")
        {
            Description = "where the head's dashboard (the jobs REST API) listens", HelpName = "HOST", DefaultValueFactory = _ => "127.0.0.1",
        };
        public readonly Option<int?> DashboardPort = CliOptions.Port("--dashboard-port", $"the dashboard's port (default {DashboardProcess.DefaultPort}; 0 picks a free one)");
        public readonly Option<int?> MetricsExportPort = CliOptions.Port("--metrics-export-port",
            "where the node serves its metrics as Prometheus text, /metrics (default: a free port, registered with the GCS)");
        public readonly Option<string> IncludeDashboard = CliOptions.OneOf("--include-dashboard", "whether the head serves the dashboard", "true", "false");
        public readonly Option<string?> AuthToken = new("--auth-token")
        {
            Description = "the cluster token (default: RAY_AUTH_TOKEN; a head makes one, a node on the head's machine reads the head's)",
            HelpName = "TOKEN",
        };
        public readonly Option<string?> TempDir = new("--temp-dir") { Description = "where session directories go (default: $TMPDIR/raysharp)", HelpName = "DIR" };
        public readonly Option<bool> Block = new("--block") { Description = "run the node in this process, in the foreground, until stopped" };
        public readonly Option<string?> AutoscalingConfig = new Option<string?>("--autoscaling-config")
        {
            Description = "head only: run the autoscaler with this cluster config (YAML: provider, idle_timeout_minutes, available_node_types)",
            HelpName = "FILE",
        }.CheckedBy(CheckAutoscalingConfig);
    }

    /// <summary>The config is read whole before the head starts: a mistake is reported with its field, and nothing starts.</summary>
    private static void CheckAutoscalingConfig(string path)
    {
        try
        {
            RaySharp.Autoscaler.AutoscalingConfig.Load(path);
        }
        catch (RaySharp.Autoscaler.AutoscalingConfigException e)
        {
            throw new ArgumentException(e.Message.ReplaceLineEndings("; "), e);
        }
    }

    public static Command BuildStart()
    {
        var o = new StartOptions();
        var command = new Command("start", "Start a head node (--head) or a node that joins a cluster (--address), in the background.")
            .With(o.Head, o.Address, o.Port, o.NumCpus, o.NumGpus, o.Resources, o.ObjectStoreMemory, o.GcsStorage, o.NodeIp, o.DashboardHost,
                o.DashboardPort, o.IncludeDashboard, o.MetricsExportPort, o.AuthToken, o.TempDir, o.Block);
        command.Options.Add(o.AutoscalingConfig);
        command.Validators.Add(result =>
        {
            bool head = result.GetValue(o.Head);
            bool address = result.GetValue(o.Address) is not null;
            if (head && address) result.AddError("raysharp start takes --head or --address HOST:PORT, not both.");
            else if (!head && !address && Environment.GetEnvironmentVariable("RAY_ADDRESS") is null)
                result.AddError("raysharp start needs --head, or --address HOST:PORT of a running head node (or RAY_ADDRESS).");
            else if (!head && result.GetValue(o.GcsStorage) is not null)
                result.AddError("--gcs-storage is an option of the head node (raysharp start --head --gcs-storage redis://HOST:PORT).");
            else if (!head && result.GetValue(o.AutoscalingConfig) is not null)
                result.AddError("--autoscaling-config is an option of the head node (raysharp start --head --autoscaling-config FILE).");
        });
        command.Handle((parse, terminal, _) => StartAsync(parse, o, terminal));
        return command;
    }

    public static Command BuildStop()
    {
        var command = new Command("stop", "Stop every node started on this machine with `raysharp start` (and a GCS of its own).");
        command.Handle((_, terminal) => Stop(terminal.Out));
        return command;
    }

    private static async Task<int> StartAsync(ParseResult parse, StartOptions o, Terminal terminal)
    {
        var output = terminal.Out;
        bool head = parse.GetValue(o.Head);
        string? address = parse.GetValue(o.Address) ?? (head ? null : Environment.GetEnvironmentVariable("RAY_ADDRESS"));
        string? gcsStorage = parse.GetValue(o.GcsStorage);
        string? tempDir = parse.GetValue(o.TempDir);
        string? nodeIp = parse.GetValue(o.NodeIp);
        string port = Invariant(parse.GetValue(o.Port) ?? (head ? 6379 : 0));

        // The token reaches the node in its environment, never on its command line (where `ps` shows it). The GCS process
        // and the head node share one, made here when none is given.
        var token = ClusterToken.From(parse.GetValue(o.AuthToken) ?? Environment.GetEnvironmentVariable(ClusterToken.Variable));
        if (gcsStorage is not null) token ??= ClusterToken.Generate();
        string? sessionDir = null;
        if (gcsStorage is not null)
        {
            // The GCS first, on the cluster's port; the head node's raylet joins it.
            sessionDir = NodeHost.NewSessionDir(tempDir);
            var gcsArgs = new List<string> { "gcs", "--port", port, "--gcs-storage", gcsStorage, "--session-dir", sessionDir };
            if (nodeIp is not null) gcsArgs.AddRange(["--node-ip", nodeIp]);
            var (gcsPid, gcsFields) = await terminal.SpinAsync("Starting the GCS…",
                _ => LaunchAsync(gcsArgs, sessionDir, "gcs.log", GcsMain.ReadyMarker, token, "GCS")).ConfigureAwait(false);
            NodeRecords.Add(gcsPid, new() { ["gcs"] = gcsFields["gcs"], ["node"] = "", ["head"] = NodeRecords.GcsRole, ["session"] = sessionDir });
            output.WriteLine($"Started the GCS (pid {gcsPid}) at {gcsFields["gcs"]}, its tables in {RedactedStorage(gcsStorage)}.");
            address = gcsFields["gcs"];
        }

        var nodeArgs = new List<string> { "node" };
        if (head) nodeArgs.Add("--head");
        if (!head || gcsStorage is not null) nodeArgs.AddRange(["--address", address!]);
        nodeArgs.AddRange(["--port", port]);
        void Pass(string name, string? value)
        {
            if (value is not null) nodeArgs.AddRange([name, value]);
        }
        Pass("--num-cpus", parse.GetValue(o.NumCpus) is { } cpus ? Invariant(cpus) : null);
        Pass("--num-gpus", parse.GetValue(o.NumGpus) is { } gpus ? Invariant(gpus) : null);
        Pass("--resources", parse.GetValue(o.Resources));
        Pass("--object-store-memory", parse.GetValue(o.ObjectStoreMemory) is { } bytes ? Invariant(bytes) : null);
        Pass("--node-ip", nodeIp);
        Pass("--temp-dir", tempDir);
        Pass("--metrics-export-port", parse.GetValue(o.MetricsExportPort) is { } metricsPort ? Invariant(metricsPort) : null);
        if (head && parse.GetValue(o.IncludeDashboard) == "true")
        {
            Pass("--dashboard-host", parse.GetValue(o.DashboardHost));
            Pass("--dashboard-port", Invariant(parse.GetValue(o.DashboardPort) ?? DashboardProcess.DefaultPort));
        }

        if (head && parse.GetValue(o.AutoscalingConfig) is { } autoscalingConfig) Pass("--autoscaling-config", Path.GetFullPath(autoscalingConfig));

        if (parse.GetValue(o.Block))
        {
            if (token is not null) Environment.SetEnvironmentVariable(ClusterToken.Variable, token.Value);
            Pass("--session-dir", sessionDir);
            return NodeMain.Run([.. nodeArgs]);
        }

        sessionDir ??= NodeHost.NewSessionDir(tempDir);
        nodeArgs.AddRange(["--session-dir", sessionDir]);
        var (pid, fields) = await terminal.SpinAsync($"Starting a {(head ? "head" : "worker")} node…",
            _ => LaunchAsync(nodeArgs, sessionDir, "node.log", NodeMain.ReadyMarker, token, "node")).ConfigureAwait(false);
        NodeRecords.Add(pid, new() { ["gcs"] = fields["gcs"], ["node"] = fields["node"], ["head"] = head.ToString(), ["session"] = sessionDir,
            ["dashboard"] = fields.GetValueOrDefault("dashboard", "") });
        if (fields.TryGetValue("dashboard", out var dashboardUrl))
            output.WriteLine($"The dashboard serves at {dashboardUrl}: submit jobs with raysharp job submit --address {dashboardUrl} -- ENTRYPOINT.");
        output.WriteLine($"Started a {(head ? "head" : "worker")} node {fields["node"][..8]} (pid {pid}); logs in {sessionDir}.");
        if (head)
        {
            output.WriteLine($"Connect drivers with RayOptions.Address = \"{fields["gcs"]}\" or RAY_ADDRESS={fields["gcs"]};");
            output.WriteLine($"add nodes with: raysharp start --address {fields["gcs"]}");
            output.WriteLine($"The cluster token is in {Path.Combine(sessionDir, ClusterToken.FileName)}: processes on this machine find it; " +
                $"elsewhere give it as {ClusterToken.Variable}.");
            if (parse.GetValue(o.AutoscalingConfig) is { } autoscaling)
                output.WriteLine($"The autoscaler runs with {Path.GetFullPath(autoscaling)}; it logs to " +
                    $"{Path.Combine(NodeHost.LogDir(sessionDir), AutoscalerProcess.LogName)} (raysharp status shows its nodes).");
        }
        return 0;
    }

    private static string Invariant<T>(T value) where T : IFormattable => value.ToString(null, CultureInfo.InvariantCulture);

    private static string RedactedStorage(string url)
    {
        var (host, port, _, password) = RedisGcsTableStorage.ParseAddress(url);
        return $"redis://{(password is null ? "" : "***@")}{host}:{port}";
    }

    /// <summary>Starts this program (the raysharp command) in RaySharp's mode with <c>ARGS</c> in the background (its output
    /// in <paramref name="logName"/> in the session) and waits for its ready line; returns its pid and the line's fields.</summary>
    private static async Task<(int Pid, Dictionary<string, string> Fields)> LaunchAsync(List<string> args, string sessionDir, string logName, string marker,
        ClusterToken? token, string what)
    {
        string log = Path.Combine(sessionDir, logName);
        string directory = AppContext.BaseDirectory;
        string program = WorkerCommand.ThisProgram(directory) ?? throw new InvalidOperationException($"The raysharp program cannot be started again as a {what}.");
        var start = WorkerCommand.StartInfo(program, directory, ProcessWorkerLauncher.WriteWorkerRuntimeConfig(sessionDir), args);
        // The process runs in the background after this command returns: its output goes to the session log.
        string command = "exec " + Quote(start.FileName) + " " + string.Join(' ', start.ArgumentList.Select(Quote)) + " > " + Quote(log) + " 2>&1 < /dev/null";
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        foreach (var variable in WorkerCommand.Variables) psi.Environment[variable] = start.Environment[variable];
        if (token is not null) psi.Environment[ClusterToken.Variable] = token.Value;
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(command);
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start the {what} process.");
        var deadline = DateTime.UtcNow.AddSeconds(60);
        string? ready = null;
        while (ready is null)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"The {what} exited with code {process.ExitCode}: {ReadShared(log)}");
            if (DateTime.UtcNow > deadline) throw new InvalidOperationException($"The {what} did not start within 60 s; see {log}.");
            ready = ReadShared(log).Split('\n').FirstOrDefault(l => l.StartsWith(marker, StringComparison.Ordinal));
            if (ready is null) await Task.Delay(100).ConfigureAwait(false); // polling the process's log for its ready line
        }
        return (process.Id, ready.Trim().Split(' ').Skip(1).Select(f => f.Split('=', 2)).ToDictionary(f => f[0], f => f[1]));
    }

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static string ReadShared(string path)
    {
        if (!File.Exists(path)) return "";
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(stream).ReadToEnd();
    }

    private static int Stop(TextWriter output)
    {
        int stopped = 0, gcsStopped = 0;
        // Worker nodes first, then the head, then a GCS of its own (the others report to it).
        foreach (var record in NodeRecords.All().OrderBy(r => r["head"] == NodeRecords.GcsRole ? 2 : r["head"] == bool.TrueString ? 1 : 0).ToList())
        {
            int pid = int.Parse(record["pid"], CultureInfo.InvariantCulture);
            try
            {
                using var process = Process.GetProcessById(pid);
                // SIGTERM: the node unregisters and stops its workers; SIGKILL the tree if it does not.
                using (var kill = Process.Start("kill", ["-TERM", pid.ToString(CultureInfo.InvariantCulture)])) kill?.WaitForExit();
                if (!process.WaitForExit(10_000)) process.Kill(entireProcessTree: true);
                if (record["head"] == NodeRecords.GcsRole) gcsStopped++;
                else stopped++;
            }
            catch (ArgumentException)
            {
                // Already gone.
            }
            File.Delete(record["file"]);
        }
        output.WriteLine(stopped == 0 && gcsStopped == 0 ? "No RaySharp nodes were running."
            : $"Stopped {stopped} RaySharp node(s){(gcsStopped > 0 ? " and the GCS" : "")}.");
        return 0;
    }
}
