using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Grpc.Core;
using RaySharp.Core;
using RaySharp.Core.Gcs;
using RaySharp.Core.Raylet;
using RaySharp.Core.Rpc;
using RaySharp.Core.Worker;

namespace RaySharp.Cli;

/// <summary>The <c>raysharp</c> command (API.md §8).</summary>
internal static class Commands
{
    private static readonly string Usage = $$"""
        usage: raysharp <command> [options]

          start --head [--port 6379] [--num-cpus N] [--num-gpus N] [--resources '{"name":1}'] [--object-store-memory BYTES] [--block]
                [--dashboard-host 127.0.0.1] [--dashboard-port 8265] [--include-dashboard true|false]
                                     the head serves the dashboard (jobs REST API) unless --include-dashboard false
                [--gcs-storage redis://HOST:PORT] [--metrics-export-port PORT]
                                     with --gcs-storage the GCS runs in a process of its own and keeps its tables in
                                     Redis: restarted, it reloads them and the cluster reconnects
          start --address HOST:PORT [same resource options] [--block]
                                     the cluster token: --auth-token or RAY_AUTH_TOKEN; a head makes one if neither
                                     is given, and same-machine nodes and commands read it from the head's session
          stop                       stop every node started on this machine with `raysharp start`
          status [--address A] [--auth-token T]
                                     nodes, resource usage (and what placement groups reserve), pending and
                                     infeasible placement groups
          list nodes|actors|jobs|placement-groups|tasks|objects [--filter KEY=VALUE]... [--limit N] [--format table|json] [--address A] [--auth-token T]
                                     one row per item, with Ray's state-API field names; a filter keeps the rows whose
                                     KEY equals VALUE (KEY!=VALUE: differs), ignoring case; tasks come from the GCS's
                                     task events, objects from every driver's and worker's reference table
          summary tasks|actors|objects [--format table|json] [--address A] [--auth-token T]
                                     tasks per function and actors per class, counted per state; references per type
          memory [--address A] [--auth-token T] [--format json]
                                     the objects in each node's object store: size, primary copy or secondary,
                                     readers pinning it, spilled, owner
        {{JobCommands.Usage}}
          logs [FILE] [--node ID] [--actor ID] [--follow] [--address A]
                                     the nodes' log files; with FILE or --actor, prints it (--follow: keeps printing)
          microbenchmark [--filter TEXT] [--duration SECONDS] [--json PATH]
                                     Ray's microbenchmarks on an embedded cluster, with raw gRPC baselines

        RAY_ADDRESS is used when --address is not given.
        """;

    /// <summary>Where `start` records the nodes it started, for `stop` and `status`.</summary>
    private static string NodesDir => Path.Combine(Path.GetTempPath(), "raysharp", "nodes");

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            output.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        try
        {
            if (args[0] == "job") return await JobCommands.RunAsync(args[1..], output, error).ConfigureAwait(false);
            var (options, flags, positional) = Parse(args.Skip(1));
            return args[0] switch
            {
                "start" => await StartAsync(options, flags, output).ConfigureAwait(false),
                "stop" => Stop(output),
                "status" => Status(options, output),
                "list" when positional.FirstOrDefault() is "tasks" or "objects" => StateCommands.List(positional[0], options, () => Gcs(options), output),
                "list" => List(positional.FirstOrDefault(), options, output),
                "summary" => StateCommands.Summary(positional.FirstOrDefault(), options, () => Gcs(options), output),
                "memory" => Memory(options, output),
                "logs" => await LogCommands.RunAsync(positional, options, flags, output).ConfigureAwait(false),
                "microbenchmark" => await MicrobenchmarkAsync(options, output).ConfigureAwait(false),
                _ => throw new ArgumentException($"Unknown command '{args[0]}'.\n{Usage}"),
            };
        }
        catch (ArgumentException e)
        {
            error.WriteLine(e.Message);
            return 2;
        }
        catch (Exception e) when (e is InvalidOperationException or RpcException or IOException)
        {
            error.WriteLine($"raysharp {args[0]}: {(e is RpcException rpc ? RpcErrors.Describe(rpc) : e.Message)}");
            return 1;
        }
    }

    private static (Dictionary<string, string> Options, HashSet<string> Flags, List<string> Positional) Parse(IEnumerable<string> args)
    {
        var options = new Dictionary<string, string>();
        var flags = new HashSet<string>();
        var positional = new List<string>();
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            if (!list[i].StartsWith("--", StringComparison.Ordinal)) { positional.Add(list[i]); continue; }
            string key = list[i][2..];
            if (key is "head" or "block" or "follow") flags.Add(key);
            else if (i + 1 < list.Count)
            {
                string value = list[++i];
                // --filter may be given more than once: every filter must hold.
                options[key] = key == "filter" && options.TryGetValue(key, out var earlier) ? earlier + "\n" + value : value;
            }
            else throw new ArgumentException($"--{key} needs a value.");
        }
        return (options, flags, positional);
    }

    private static async Task<int> StartAsync(Dictionary<string, string> options, HashSet<string> flags, TextWriter output)
    {
        bool head = flags.Contains("head");
        string? address = options.GetValueOrDefault("address") ?? (head ? null : Environment.GetEnvironmentVariable("RAY_ADDRESS"));
        if (head == (address is not null && options.ContainsKey("address")))
            throw new ArgumentException("raysharp start needs exactly one of --head or --address HOST:PORT.");
        if (!head && address is null) throw new ArgumentException("raysharp start needs --head, or --address HOST:PORT of a running head node.");
        if (options.TryGetValue("resources", out var json)) NodeMain.ParseResources(json); // fail here, not in the background
        string? gcsStorage = options.GetValueOrDefault("gcs-storage");
        if (gcsStorage is not null)
        {
            if (!head) throw new ArgumentException("--gcs-storage is an option of the head node (raysharp start --head --gcs-storage redis://HOST:PORT).");
            RedisGcsTableStorage.ParseAddress(gcsStorage); // a malformed URL fails here, not in the background
        }
        string port = options.GetValueOrDefault("port", head ? "6379" : "0");

        // The token reaches the node in its environment, never on its command line (where `ps` shows it). The GCS process
        // and the head node share one, made here when none is given.
        var token = ClusterToken.From(options.GetValueOrDefault("auth-token") ?? Environment.GetEnvironmentVariable(ClusterToken.Variable));
        if (gcsStorage is not null) token ??= ClusterToken.Generate();
        string? sessionDir = null;
        if (gcsStorage is not null)
        {
            // The GCS first, on the cluster's port; the head node's raylet joins it.
            sessionDir = NodeHost.NewSessionDir(options.GetValueOrDefault("temp-dir"));
            var gcsArgs = new List<string> { "gcs", "--port", port, "--gcs-storage", gcsStorage, "--session-dir", sessionDir };
            if (options.TryGetValue("node-ip", out var ip)) gcsArgs.AddRange(["--node-ip", ip]);
            var (gcsPid, gcsFields) = await LaunchAsync(gcsArgs, sessionDir, "gcs.log", GcsMain.ReadyMarker, token, "GCS").ConfigureAwait(false);
            Record(gcsPid, new() { ["gcs"] = gcsFields["gcs"], ["node"] = "", ["head"] = GcsRole, ["session"] = sessionDir });
            output.WriteLine($"Started the GCS (pid {gcsPid}) at {gcsFields["gcs"]}, its tables in {RedactedStorage(gcsStorage)}.");
            address = gcsFields["gcs"];
        }

        var nodeArgs = new List<string> { "node" };
        if (head) nodeArgs.Add("--head");
        if (!head || gcsStorage is not null) nodeArgs.AddRange(["--address", address!]);
        nodeArgs.AddRange(["--port", port]);
        foreach (var key in (string[])["num-cpus", "num-gpus", "resources", "object-store-memory", "node-ip", "temp-dir", "metrics-export-port"])
            if (options.TryGetValue(key, out var v)) nodeArgs.AddRange(["--" + key, v]);
        if (head && DashboardWanted(options))
            nodeArgs.AddRange(["--dashboard-host", options.GetValueOrDefault("dashboard-host", "127.0.0.1"),
                "--dashboard-port", options.GetValueOrDefault("dashboard-port", DashboardProcess.DefaultPort.ToString(CultureInfo.InvariantCulture))]);

        if (flags.Contains("block"))
        {
            if (token is not null) Environment.SetEnvironmentVariable(ClusterToken.Variable, token.Value);
            if (sessionDir is not null) nodeArgs.AddRange(["--session-dir", sessionDir]);
            return NodeMain.Run([.. nodeArgs]);
        }

        sessionDir ??= NodeHost.NewSessionDir(options.GetValueOrDefault("temp-dir"));
        nodeArgs.AddRange(["--session-dir", sessionDir]);
        var (pid, fields) = await LaunchAsync(nodeArgs, sessionDir, "node.log", NodeMain.ReadyMarker, token, "node").ConfigureAwait(false);
        Record(pid, new() { ["gcs"] = fields["gcs"], ["node"] = fields["node"], ["head"] = head.ToString(), ["session"] = sessionDir,
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
        }
        return 0;
    }

    private static bool DashboardWanted(Dictionary<string, string> options) => options.GetValueOrDefault("include-dashboard", "true") switch
    {
        "true" => true,
        "false" => false,
        var other => throw new ArgumentException($"--include-dashboard is true or false, not '{other}'."),
    };

    /// <summary>The dashboard of the head node started on this machine, if it has one.</summary>
    internal static string? RecordedDashboard() =>
        RecordedNodes().FirstOrDefault(r => r["head"] == bool.TrueString && r.GetValueOrDefault("dashboard") is { Length: > 0 })?["dashboard"];

    /// <summary>The role recorded for a GCS process of its own (beside "True" for a head node and "False" for the others).</summary>
    private const string GcsRole = "gcs";

    private static string RedactedStorage(string url)
    {
        var (host, port, _, password) = RedisGcsTableStorage.ParseAddress(url);
        return $"redis://{(password is null ? "" : "***@")}{host}:{port}";
    }

    private static void Record(int pid, Dictionary<string, string> record)
    {
        record["pid"] = pid.ToString(CultureInfo.InvariantCulture);
        Directory.CreateDirectory(NodesDir);
        File.WriteAllText(Path.Combine(NodesDir, record["pid"] + ".json"), JsonSerializer.Serialize(record));
    }

    /// <summary>Starts <c>RaySharp.Runtime.dll ARGS</c> in the background (its output in <paramref name="logName"/> in the
    /// session) and waits for its ready line; returns its pid and the line's fields.</summary>
    private static async Task<(int Pid, Dictionary<string, string> Fields)> LaunchAsync(List<string> args, string sessionDir, string logName, string marker,
        ClusterToken? token, string what)
    {
        string log = Path.Combine(sessionDir, logName);
        string runtimeDll = Path.Combine(AppContext.BaseDirectory, "RaySharp.Runtime.dll");
        string runtimeConfig = ProcessWorkerLauncher.WriteWorkerRuntimeConfig(sessionDir);
        // The process runs in the background after this command returns: its output goes to the session log.
        string command = "exec " + Quote(ProcessWorkerLauncher.DotnetHost()) + " exec --runtimeconfig " + Quote(runtimeConfig) + " " + Quote(runtimeDll) + " " +
            string.Join(' ', args.Select(Quote)) + " > " + Quote(log) + " 2>&1 < /dev/null";
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
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

    private static IEnumerable<Dictionary<string, string>> RecordedNodes()
    {
        if (!Directory.Exists(NodesDir)) yield break;
        foreach (var file in Directory.EnumerateFiles(NodesDir, "*.json"))
        {
            Dictionary<string, string>? record = null;
            try { record = JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(file)); }
            catch (JsonException) { }
            if (record is null) { File.Delete(file); continue; }
            record["file"] = file;
            yield return record;
        }
    }

    private static int Stop(TextWriter output)
    {
        int stopped = 0, gcsStopped = 0;
        // Worker nodes first, then the head, then a GCS of its own (the others report to it).
        foreach (var record in RecordedNodes().OrderBy(r => r["head"] == GcsRole ? 2 : r["head"] == bool.TrueString ? 1 : 0).ToList())
        {
            int pid = int.Parse(record["pid"], CultureInfo.InvariantCulture);
            try
            {
                using var process = Process.GetProcessById(pid);
                // SIGTERM: the node unregisters and stops its workers; SIGKILL the tree if it does not.
                using (var kill = Process.Start("kill", ["-TERM", pid.ToString(CultureInfo.InvariantCulture)])) kill?.WaitForExit();
                if (!process.WaitForExit(10_000)) process.Kill(entireProcessTree: true);
                if (record["head"] == GcsRole) gcsStopped++;
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

    private static string ResolveAddress(Dictionary<string, string> options) =>
        options.GetValueOrDefault("address") ?? Environment.GetEnvironmentVariable("RAY_ADDRESS")
        ?? RecordedNodes().FirstOrDefault(r => r["head"] == bool.TrueString)?["gcs"]
        ?? throw new InvalidOperationException("No cluster address: pass --address HOST:PORT, set RAY_ADDRESS, or start one with `raysharp start --head`.");

    /// <summary>The cluster's GCS, through the same client every RaySharp process uses.</summary>
    private static GcsClient Gcs(Dictionary<string, string> options) => Gcs(options, out _);

    internal static GcsClient Gcs(Dictionary<string, string> options, out RayConfig config)
    {
        string address = ResolveAddress(options);
        var token = ClusterToken.From(options.GetValueOrDefault("auth-token") ?? Environment.GetEnvironmentVariable(ClusterToken.Variable))
            ?? ClusterToken.FindLocal(address, options.GetValueOrDefault("temp-dir"))
            ?? RecordedNodes().Where(r => r["gcs"] == address).Select(r => ReadToken(r["session"])).FirstOrDefault(t => t is not null)
            // Without one every call would be refused: say how to give it before trying.
            ?? throw new InvalidOperationException(
                $"Authentication: no cluster token for the cluster at {address}. Pass --auth-token or set {ClusterToken.Variable} to the token in " +
                $"the head node's <session dir>/{ClusterToken.FileName} (on the head's machine it is found there by itself).");
        // A command fails at once when the GCS does not answer (it does not wait out a GCS restart).
        config = RayConfig.Default with { AuthToken = token, GcsRpcServerReconnectTimeout = TimeSpan.Zero };
        return new(address, config);
    }

    /// <summary>The object stores of the cluster's alive nodes (a node that does not answer is left out, with a note).</summary>
    private static List<StoreStatsReply> StoreStats(GcsClient gcs, RayConfig config, TextWriter? notes)
    {
        List<StoreStatsReply> stats = [];
        foreach (var node in Ask(gcs, g => g.GetAllNodes()).Nodes.Where(n => n.Alive).OrderByDescending(n => n.IsHead))
        {
            try
            {
                stats.Add(RpcChannels.Invoker(node.RayletEndpoint, config).AsyncUnaryCall(NodeManagerService.GetStoreStatsMethod, null,
                    new CallOptions(deadline: DateTime.UtcNow.AddSeconds(10)), Empty.Instance).ResponseAsync.GetAwaiter().GetResult());
            }
            catch (RpcException e)
            {
                notes?.WriteLine($"  node {node.NodeId} ({node.RayletEndpoint}) did not report its object store: {e.StatusCode} ({e.Status.Detail})");
            }
        }
        return stats;
    }

    private static string Bytes(long n) => PlasmaStore.Bytes(n);

    private static int Memory(Dictionary<string, string> options, TextWriter output)
    {
        var gcs = Gcs(options, out var config);
        var stats = StoreStats(gcs, config, output);
        if (options.GetValueOrDefault("format") == "json")
        {
            var rows = stats.Select(s => new Dictionary<string, object?>
            {
                ["node_id"] = s.NodeId.ToString(), ["capacity"] = s.Capacity, ["used"] = s.Used, ["spilled_bytes"] = s.SpilledBytes,
                ["spilled_objects"] = s.SpilledObjects, ["restored_bytes"] = s.RestoredBytes, ["evicted_bytes"] = s.EvictedBytes,
                ["fallback_bytes"] = s.FallbackBytes,
                ["objects"] = s.Objects.Select(o => new Dictionary<string, object?>
                {
                    ["object_id"] = o.ObjectId.ToString(), ["size"] = o.Size, ["copy"] = o.IsPrimary ? "primary" : "secondary",
                    ["sealed"] = o.IsSealed, ["readers"] = o.Readers, ["spilled"] = o.IsSpilled, ["on_disk_fallback"] = o.OnFallback,
                    ["owner"] = o.Owner?.WorkerId.ToString(),
                }).ToList(),
            }).ToList();
            output.WriteLine(JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        output.WriteLine($"======== Object store memory ({gcs.Endpoint}) ========");
        foreach (var s in stats)
        {
            output.WriteLine($"Node {s.NodeId}: {Bytes(s.Used)} of {Bytes(s.Capacity)} used, {s.Objects.Length} objects, " +
                $"{Bytes(s.SpilledBytes)} spilled ({s.SpilledObjects} objects), {Bytes(s.RestoredBytes)} restored, {Bytes(s.EvictedBytes)} of copies evicted" +
                (s.FallbackBytes > 0 ? $", {Bytes(s.FallbackBytes)} in disk files (/dev/shm is full)" : ""));
            if (s.Objects.Length == 0) continue;
            output.WriteLine($"  {"object id",-58} {"size",10} {"copy",-9} {"readers",7} {"state",-8} owner");
            foreach (var o in s.Objects.OrderByDescending(o => o.Size))
                output.WriteLine($"  {o.ObjectId,-58} {Bytes(o.Size),10} {(o.IsPrimary ? "primary" : "secondary"),-9} {o.Readers,7} " +
                    $"{(!o.IsSealed ? "writing" : o.IsSpilled ? "spilled" : "in memory"),-8} {o.Owner?.WorkerId.ToString() ?? "-"}");
        }
        return 0;
    }

    private static ClusterToken? ReadToken(string sessionDir)
    {
        try { return ClusterToken.From(File.ReadAllText(Path.Combine(sessionDir, ClusterToken.FileName))); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>A call to the GCS; an unreachable one is an error that says what to check.</summary>
    internal static T Ask<T>(GcsClient gcs, Func<GcsClient, T> call)
    {
        try
        {
            return call(gcs);
        }
        catch (RayException e) when (e.InnerException is RpcException { StatusCode: StatusCode.Unauthenticated })
        {
            throw new InvalidOperationException($"authentication failed at the GCS at {gcs.Endpoint}: pass --auth-token or set RAY_AUTH_TOKEN " +
                $"to the token in the head node's <session dir>/{ClusterToken.FileName}. ({e.Message})", e);
        }
        catch (RayException e)
        {
            throw new InvalidOperationException($"cannot reach the GCS at {gcs.Endpoint}. Is the head node running? ({e.Message})", e);
        }
    }

    private static int Status(Dictionary<string, string> options, TextWriter output)
    {
        var gcs = Gcs(options, out var config);
        var nodes = Ask(gcs, g => g.GetAllNodes()).Nodes;
        output.WriteLine($"======== Cluster status ({gcs.Endpoint}) ========");
        output.WriteLine($"Alive nodes: {nodes.Count(n => n.Alive)}  Dead nodes: {nodes.Count(n => !n.Alive)}");
        foreach (var n in nodes.OrderByDescending(n => n.IsHead))
            output.WriteLine($"  {n.NodeId} {(n.IsHead ? "head  " : "worker")} {(n.Alive ? "ALIVE" : "DEAD ")} {n.RayletEndpoint}" +
                (n.DeathReason is { } why ? $" ({why})" : ""));
        output.WriteLine("Resources (used/total):");
        var alive = nodes.Where(n => n.Alive).ToList();
        // A committed bundle shows on its node as CPU_group_<i>_<pg>, CPU_group_<pg>, bundle_group_... resources: they are
        // not listed, the share of each resource that placement groups reserve is said next to it instead. What a group
        // reserves counts as used on the node (it is taken out of what is free); "used of reserved" is what its work holds.
        var reserved = ReservedInPlacementGroups(alive);
        foreach (var name in alive.SelectMany(n => n.Total.Keys).Where(n => !BundleResources.IsBundleResource(n)).Distinct().Order(StringComparer.Ordinal))
        {
            double total = alive.Sum(n => n.Total.GetValueOrDefault(name));
            double available = alive.Sum(n => n.Available.GetValueOrDefault(name));
            string inGroups = reserved.TryGetValue(name, out var r) ? $" ({r.Used:0.##} used of {r.Total:0.##} reserved in placement groups)" : "";
            output.WriteLine($"  {total - available:0.##}/{total:0.##} {name}{inGroups}");
        }
        PlacementGroupStatus(Ask(gcs, g => g.GetAllPlacementGroups()), output);
        var stores = StoreStats(gcs, config, output);
        output.WriteLine($"Object store: {Bytes(stores.Sum(s => s.Used))} of {Bytes(stores.Sum(s => s.Capacity))} used by " +
            $"{stores.Sum(s => s.Objects.Length)} objects; {Bytes(stores.Sum(s => s.SpilledBytes))} spilled to disk " +
            "(`raysharp memory` lists them)");
        return 0;
    }

    /// <summary>Per resource, what the committed bundles on <paramref name="nodes"/> reserve and how much of it their work
    /// holds. A group's wildcard resource (<c>CPU_group_&lt;pg&gt;</c>) totals what all its bundles on a node reserve;
    /// work in a group holds some of it, and work in bundle i also some of <c>CPU_group_&lt;i&gt;_&lt;pg&gt;</c>. What is
    /// used on a node is the larger of the two (work asking for one bundle may hold only the indexed name).</summary>
    private static Dictionary<string, (double Total, double Used)> ReservedInPlacementGroups(IEnumerable<NodeRecord> nodes)
    {
        var reserved = new Dictionary<string, (double Total, double Used)>(StringComparer.Ordinal);
        foreach (var node in nodes)
        {
            var perGroup = new Dictionary<(PlacementGroupId Group, string Resource), (double Total, double WildcardUsed, double IndexedUsed)>();
            foreach (var (name, total) in node.Total)
            {
                if (!TryParseBundleResource(name, out var group, out var resource, out int index) || resource == "bundle") continue;
                double used = total - node.Available.GetValueOrDefault(name);
                var (sum, wildcardUsed, indexedUsed) = perGroup.GetValueOrDefault((group, resource));
                perGroup[(group, resource)] = index < 0 ? (sum + total, wildcardUsed + used, indexedUsed) : (sum, wildcardUsed, indexedUsed + used);
            }
            foreach (var ((_, resource), (total, wildcardUsed, indexedUsed)) in perGroup)
            {
                var (sum, used) = reserved.GetValueOrDefault(resource);
                reserved[resource] = (sum + total, used + Math.Min(total, Math.Max(wildcardUsed, indexedUsed)));
            }
        }
        return reserved;
    }

    /// <summary>Splits a bundle resource name: <c>&lt;resource&gt;_group_&lt;pg&gt;</c> (index -1, the name all of a
    /// group's bundles add to) or <c>&lt;resource&gt;_group_&lt;i&gt;_&lt;pg&gt;</c> (bundle i's own).</summary>
    private static bool TryParseBundleResource(string name, out PlacementGroupId group, out string resource, out int index)
    {
        const string Infix = "_group";
        resource = "";
        index = -1;
        if (!BundleResources.TryGetGroup(name, out group)) return false;
        string head = name[..^(group.ToString().Length + 1)]; // "<resource>_group" or "<resource>_group_<i>"
        if (!head.EndsWith(Infix, StringComparison.Ordinal))
        {
            int at = head.LastIndexOf(Infix + "_", StringComparison.Ordinal);
            if (at <= 0 || !int.TryParse(head.AsSpan(at + Infix.Length + 1), NumberStyles.None, CultureInfo.InvariantCulture, out index)) return false;
            resource = head[..at];
        }
        else resource = head[..^Infix.Length];
        return resource.Length > 0 && BundleResources.Name(resource, group, index) == name;
    }

    /// <summary>How many groups are created and pending, then each group that waits, with why: a pending group holds
    /// nothing until all of its bundles fit at once, and an infeasible one waits for a node that fits to join.</summary>
    private static void PlacementGroupStatus(PlacementGroupTableData[] groups, TextWriter output)
    {
        var live = groups.Where(g => g.State != PlacementGroupState.Removed).ToList();
        var waiting = live.Where(g => g.State != PlacementGroupState.Created).OrderBy(g => g.CreateTimeMs).ToList();
        int infeasible = waiting.Count(g => g.Infeasible);
        output.WriteLine($"Placement groups: {live.Count - waiting.Count} created, {waiting.Count} pending" +
            (infeasible > 0 ? $" ({infeasible} infeasible)" : "") + (groups.Length > 0 ? " (`raysharp list placement-groups` lists them)" : ""));
        if (waiting.Count == 0) return;
        output.WriteLine("Pending placement groups:");
        foreach (var g in waiting)
        {
            int lost = g.BundleNodes.Count(n => n.IsNil);
            string why = g.Infeasible
                ? "infeasible: no set of alive nodes can ever hold it; it waits for a node that fits"
                : g.State switch
                {
                    PlacementGroupState.Prepared => "reserving its bundles",
                    PlacementGroupState.Rescheduling => $"rescheduling {lost} of {g.Spec.Bundles.Length} bundle(s) lost with their node; waits for resources",
                    _ => "waits for resources to be free (it holds none until every bundle fits)",
                };
            output.WriteLine($"  {g.Spec.Id} {StrategyName(g.Spec.Strategy)} {BundleShapes(g.Spec.Bundles)}" +
                (g.Spec.Name is { } name ? $" '{name}'" : "") + $": {why}");
        }
    }

    /// <summary>Ray's name of a strategy (PACK, SPREAD, STRICT_PACK, STRICT_SPREAD).</summary>
    private static string StrategyName(PlacementStrategy strategy) => strategy switch
    {
        PlacementStrategy.Pack => "PACK",
        PlacementStrategy.Spread => "SPREAD",
        PlacementStrategy.StrictPack => "STRICT_PACK",
        PlacementStrategy.StrictSpread => "STRICT_SPREAD",
        _ => strategy.ToString().ToUpperInvariant(),
    };

    /// <summary>A bundle as <c>{CPU: 1, GPU: 1}</c>.</summary>
    private static string BundleShape(IReadOnlyDictionary<string, double> bundle) =>
        "{" + string.Join(", ", bundle.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => $"{kv.Key}: {kv.Value.ToString("0.###", CultureInfo.InvariantCulture)}")) + "}";

    /// <summary>The bundles of a group: <c>{CPU: 1} * 4</c> when all are alike (as `ray status` writes demands), else each in turn.</summary>
    private static string BundleShapes(Dictionary<string, double>[] bundles)
    {
        var shapes = bundles.Select(BundleShape).ToList();
        return shapes.Distinct().Count() == 1 ? $"{shapes[0]} * {shapes.Count}" : "[" + string.Join(", ", shapes) + "]";
    }

    /// <summary>A group as Ray's state API lists it (<c>ray list placement-groups --detail</c>), with its strategy and
    /// whether it is infeasible on the current nodes.</summary>
    private static Dictionary<string, object?> PlacementGroupRow(PlacementGroupTableData g) => new()
    {
        ["placement_group_id"] = g.Spec.Id.ToString(),
        ["name"] = g.Spec.Name,
        ["namespace"] = g.Spec.Namespace,
        ["creator_job_id"] = g.Spec.JobId.ToString(),
        ["state"] = g.State.ToString().ToUpperInvariant(),
        ["strategy"] = StrategyName(g.Spec.Strategy),
        ["is_detached"] = g.Spec.Lifetime == PlacementGroupLifetime.Detached,
        ["infeasible"] = g.Infeasible && g.State != PlacementGroupState.Removed,
        ["bundles"] = g.Spec.Bundles.Select((b, i) => new Dictionary<string, object?>
        {
            ["bundle_index"] = i,
            ["node_id"] = i < g.BundleNodes.Length && !g.BundleNodes[i].IsNil ? g.BundleNodes[i].ToString() : null,
            ["unit_resources"] = b,
        }).ToList(),
        ["stats"] = new Dictionary<string, object?>
        {
            ["scheduling_state"] = g.State switch
            {
                PlacementGroupState.Created => "FINISHED",
                PlacementGroupState.Removed => "REMOVED",
                PlacementGroupState.Prepared => "SCHEDULING_STARTED",
                _ => g.Infeasible ? "INFEASIBLE" : "QUEUED",
            },
            ["create_time_ms"] = g.CreateTimeMs,
            ["remove_time_ms"] = g.RemoveTimeMs == 0 ? null : g.RemoveTimeMs,
        },
    };

    private static int List(string? what, Dictionary<string, string> options, TextWriter output)
    {
        bool json = options.GetValueOrDefault("format", "table") switch
        {
            "json" => true,
            "table" => false,
            var other => throw new ArgumentException($"--format is table or json, not '{other}'."),
        };
        int? limit = null;
        if (options.TryGetValue("limit", out var l))
            limit = int.TryParse(l, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0 ? n
                : throw new ArgumentException($"--limit takes a positive number of rows, not '{l}'.");
        var filters = options.TryGetValue("filter", out var f) ? f.Split('\n').Select(ParseFilter).ToList() : [];
        if (what is not ("nodes" or "actors" or "jobs" or "placement-groups" or "tasks" or "objects"))
            throw new ArgumentException("raysharp list needs one of: nodes, actors, jobs, placement-groups, tasks, objects.");
        var gcs = Gcs(options);
        IEnumerable<Dictionary<string, object?>> rows = what switch
        {
            "nodes" => Ask(gcs, g => g.GetAllNodes()).Nodes.Select(n => new Dictionary<string, object?>
            {
                ["node_id"] = n.NodeId.ToString(), ["state"] = n.Alive ? "ALIVE" : "DEAD", ["is_head"] = n.IsHead,
                ["address"] = n.RayletEndpoint, ["resources"] = n.Total,
            }),
            "actors" => Ask(gcs, g => g.GetAllActors()).Select(a => new Dictionary<string, object?>
            {
                ["actor_id"] = a.ActorId.ToString(), ["class_name"] = a.Creation.ClassName, ["name"] = a.Creation.Name,
                ["namespace"] = a.Creation.Namespace, ["state"] = a.State.ToString().ToUpperInvariant(), ["node_id"] = a.NodeId.ToString(),
                ["num_restarts"] = a.NumRestarts, ["death_cause"] = a.DeathCause?.Message,
            }),
            "jobs" => Ask(gcs, g => g.GetAllJobs()).Select(j => new Dictionary<string, object?>
            {
                ["job_id"] = j.JobId.ToString(), ["status"] = j.IsDead ? "FINISHED" : "RUNNING", ["namespace"] = j.Namespace,
                ["driver_pid"] = j.DriverProcessId, ["code_search_path"] = j.CodeSearchPath,
            }),
            // Oldest first, as the GCS received them.
            "placement-groups" => Ask(gcs, g => g.GetAllPlacementGroups()).OrderBy(g => g.CreateTimeMs).Select(PlacementGroupRow),
            _ => throw new InvalidOperationException(
                $"`raysharp list {what}` is not available yet: the GCS does not keep a {what} table in this version."),
        };
        var all = rows.ToList();
        foreach (var (key, _, _) in filters)
            if (all.Count > 0 && !(all[0].TryGetValue(key, out var sample) && IsScalar(sample)))
                throw new ArgumentException($"--filter: {what} have no field '{key}' to filter on; use one of: " +
                    string.Join(", ", all[0].Where(kv => IsScalar(kv.Value)).Select(kv => kv.Key)) + ".");
        var matching = all.Where(row => filters.All(c => string.Equals(Cell(row.GetValueOrDefault(c.Key)), c.Value, StringComparison.OrdinalIgnoreCase) == c.Equal)).ToList();
        var list = limit is { } max ? matching.Take(max).ToList() : matching;
        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(list, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        foreach (var row in list)
            output.WriteLine(string.Join("  ", row.Where(kv => kv.Value is not IDictionary<string, double>).Select(kv => $"{kv.Key}={Cell(kv.Value)}")));
        if (list.Count == 0) output.WriteLine(all.Count == 0 ? $"No {what}." : $"No {what} match the filter.");
        if (list.Count < matching.Count) output.WriteLine($"({list.Count} of {matching.Count} shown: --limit {limit})");
        return 0;
    }

    /// <summary>KEY=VALUE or KEY!=VALUE.</summary>
    private static (string Key, string Value, bool Equal) ParseFilter(string filter)
    {
        int at = filter.IndexOf('=', StringComparison.Ordinal);
        if (at <= 0) throw new ArgumentException($"--filter takes KEY=VALUE or KEY!=VALUE, not '{filter}'.");
        bool equal = filter[at - 1] != '!';
        string key = filter[..(equal ? at : at - 1)].Trim();
        if (key.Length == 0) throw new ArgumentException($"--filter takes KEY=VALUE or KEY!=VALUE, not '{filter}'.");
        return (key, filter[(at + 1)..].Trim(), equal);
    }

    private static bool IsScalar(object? value) => value is null or string or bool or int or long or double;

    /// <summary>A value in the table format: bundles as <c>[{CPU: 1} on NODE, {CPU: 1} not placed]</c>, times as UTC.</summary>
    private static string Cell(object? value) => value switch
    {
        null => "",
        bool b => b ? "true" : "false",
        List<Dictionary<string, object?>> bundles => "[" + string.Join(", ", bundles.Select(b =>
            BundleShape((IReadOnlyDictionary<string, double>)b["unit_resources"]!) + (b["node_id"] is string node ? $" on {node}" : " not placed"))) + "]",
        Dictionary<string, object?> fields => "{" + string.Join(", ", fields.Where(kv => kv.Value is not null).Select(kv =>
            kv.Key.EndsWith("_time_ms", StringComparison.Ordinal) && kv.Value is long ms
                ? $"{kv.Key[..^3]}: {DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)}Z"
                : $"{kv.Key}: {Cell(kv.Value)}")) + "}",
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static async Task<int> MicrobenchmarkAsync(Dictionary<string, string> options, TextWriter output)
    {
        var o = new Benchmarks.MicrobenchmarkOptions { Filter = options.GetValueOrDefault("filter"), JsonPath = options.GetValueOrDefault("json") };
        if (options.TryGetValue("duration", out var d))
        {
            if (!double.TryParse(d, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || seconds <= 0)
                throw new ArgumentException($"--duration takes a positive number of seconds, not '{d}'.");
            o = o with { Duration = TimeSpan.FromSeconds(seconds) };
        }
        await Benchmarks.Microbenchmarks.RunAsync(output, o).ConfigureAwait(false);
        return 0;
    }
}
