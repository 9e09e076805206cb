using Grpc.Core;
using RaySharp.Core;
using RaySharp.Core.Raylet;
using RaySharp.Core.Rpc;

namespace RaySharp.Cli;

/// <summary>
/// <c>raysharp logs [FILE] [--node ID] [--actor ID] [--follow]</c> (Ray's <c>ray logs</c>): lists the log files of the
/// cluster's nodes, or prints one — a file by name, or an actor's output — read through the raylet of the node that
/// has it, so it works for any node of the cluster. <c>--follow</c> keeps printing what is appended.
/// </summary>
internal static class LogCommands
{
    private static readonly HashSet<string> s_options = ["node", "actor", "address", "auth-token", "temp-dir"];

    /// <summary>How much of a file one read asks for.</summary>
    private const int Chunk = 256 * 1024;

    /// <summary>How often <c>--follow</c> asks for more.</summary>
    private static readonly TimeSpan s_followInterval = TimeSpan.FromMilliseconds(500);

    public static async Task<int> RunAsync(IReadOnlyList<string> positional, Dictionary<string, string> options, HashSet<string> flags,
        TextWriter output, CancellationToken ct = default)
    {
        if (options.Keys.FirstOrDefault(k => !s_options.Contains(k)) is { } unknown)
            throw new ArgumentException($"raysharp logs: unknown option --{unknown} (use [FILE] [--node ID] [--actor ID] [--follow]).");
        if (positional.Count > 1) throw new ArgumentException($"raysharp logs takes at most one file name, not {positional.Count}.");
        string? file = positional.Count == 1 ? positional[0] : null;
        if (file is not null && (file.Length == 0 || file.IndexOfAny(['/', '\\']) >= 0))
            throw new ArgumentException($"raysharp logs: '{file}' is not a log file name (names as `raysharp logs` lists them, without a directory).");
        bool follow = flags.Contains("follow");
        ActorId? actor = null;
        if (options.TryGetValue("actor", out var actorText))
        {
            if (!ActorId.TryParse(actorText, out var parsed)) throw new ArgumentException($"--actor: '{actorText}' is not an actor ID (hex, as `raysharp list actors` shows).");
            if (file is not null) throw new ArgumentException("raysharp logs: give a file name or --actor, not both.");
            actor = parsed;
        }
        if (follow && file is null && actor is null) throw new ArgumentException("--follow needs a file name or --actor ID to follow.");

        var gcs = Commands.Gcs(options, out var config);
        var nodes = Commands.Ask(gcs, g => g.GetAllNodes()).Nodes;
        NodeRecord? node = options.TryGetValue("node", out var nodeText) ? FindNode(nodes, nodeText) : null;

        if (actor is { } actorId)
        {
            var info = Commands.Ask(gcs, g => g.GetActorInfo(actorId)) ?? throw new ArgumentException($"--actor: the cluster has no actor {actorId}.");
            var worker = info.Worker ?? throw new InvalidOperationException(
                $"actor {actorId} has no worker now (it is {info.State}); its past workers' files are listed by `raysharp logs --node ID`.");
            node = nodes.FirstOrDefault(n => n.NodeId == worker.NodeId) ?? throw new InvalidOperationException(
                $"actor {actorId} runs on node {worker.NodeId}, which is not in the cluster's node table.");
            string[] names = [$"worker-{worker.WorkerId}.out", $"worker-{worker.WorkerId}.err"];
            await PrintAsync(node, names, follow, config, output, ct).ConfigureAwait(false);
            return 0;
        }
        if (file is not null)
        {
            node ??= await FindFileAsync(nodes, file, config, ct).ConfigureAwait(false)
                ?? throw new ArgumentException($"raysharp logs: no alive node has a log file named '{file}' (run `raysharp logs` to list them).");
            await PrintAsync(node, [file], follow, config, output, ct).ConfigureAwait(false);
            return 0;
        }
        IEnumerable<NodeRecord> listed = node is null ? nodes.Where(n => n.Alive).OrderByDescending(n => n.IsHead) : [node];
        foreach (var n in listed)
        {
            var list = await ListAsync(n, config, ct).ConfigureAwait(false);
            output.WriteLine($"======== node {n.NodeId}{(n.IsHead ? " (head)" : "")} at {n.RayletEndpoint} ========");
            if (list is null)
            {
                output.WriteLine("  (the node did not answer)");
                continue;
            }
            foreach (var f in list.Files)
            {
                string who = f.ProcessId == 0 ? "" : $"  pid={f.ProcessId}" + (f.ActorName is null ? "" : $" actor={f.ActorName}");
                output.WriteLine($"  {f.Name,-52} {Bytes(f.Size),10}  {DateTimeOffset.FromUnixTimeMilliseconds(f.ModifiedUnixMs).LocalDateTime:yyyy-MM-dd HH:mm:ss}{who}");
            }
        }
        return 0;
    }

    /// <summary>The node whose ID is <paramref name="text"/> or starts with it (at least 4 hex digits, one match).</summary>
    private static NodeRecord FindNode(NodeRecord[] nodes, string text)
    {
        if (text.Length < 4 || !text.All(char.IsAsciiHexDigit))
            throw new ArgumentException($"--node: '{text}' is not a node ID (hex, at least 4 digits of it, as `raysharp list nodes` shows).");
        var matches = nodes.Where(n => n.NodeId.ToString().StartsWith(text, StringComparison.OrdinalIgnoreCase)).ToList();
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new ArgumentException($"--node: the cluster has no node {text}."),
            _ => throw new ArgumentException($"--node: {text} matches {matches.Count} nodes; give more of the ID."),
        };
    }

    private static async Task<LogFileList?> ListAsync(NodeRecord node, RayConfig config, CancellationToken ct)
    {
        try
        {
            return await RpcChannels.Invoker(node.RayletEndpoint, config).AsyncUnaryCall(NodeManagerService.ListLogsMethod, null,
                new CallOptions(deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: ct), Empty.Instance).ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
        {
            return null;
        }
    }

    private static async Task<NodeRecord?> FindFileAsync(NodeRecord[] nodes, string file, RayConfig config, CancellationToken ct)
    {
        foreach (var n in nodes.Where(n => n.Alive).OrderByDescending(n => n.IsHead))
            if ((await ListAsync(n, config, ct).ConfigureAwait(false))?.Files.Any(f => f.Name == file) == true) return n;
        return null;
    }

    /// <summary>Prints the files from their start; following, keeps printing what is appended (and starts over when a
    /// file shrinks: it was truncated or rotated).</summary>
    private static async Task PrintAsync(NodeRecord node, string[] names, bool follow, RayConfig config, TextWriter output, CancellationToken ct)
    {
        var invoker = RpcChannels.Invoker(node.RayletEndpoint, config);
        var offsets = new long[names.Length];
        bool anyFound = false;
        while (true)
        {
            for (int i = 0; i < names.Length; i++)
            {
                while (true)
                {
                    ReadLogReply reply;
                    try
                    {
                        reply = await invoker.AsyncUnaryCall(NodeManagerService.ReadLogMethod, null,
                            new CallOptions(deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: ct),
                            new ReadLogRequest(names[i], offsets[i], Chunk)).ResponseAsync.ConfigureAwait(false);
                    }
                    catch (RpcException) when (ct.IsCancellationRequested)
                    {
                        throw new OperationCanceledException(ct);
                    }
                    if (!reply.Found) break;
                    anyFound = true;
                    if (reply.Size < offsets[i])
                    {
                        offsets[i] = 0;
                        continue;
                    }
                    if (reply.Data.Length == 0) break;
                    await output.WriteAsync(System.Text.Encoding.UTF8.GetString(reply.Data)).ConfigureAwait(false);
                    offsets[i] = reply.Offset + reply.Data.Length;
                }
            }
            if (!anyFound)
                throw new ArgumentException($"raysharp logs: node {node.NodeId} has no log file named {string.Join(" or ", names)}.");
            await output.FlushAsync(ct).ConfigureAwait(false);
            if (!follow) return;
            await Task.Delay(s_followInterval, ct).ConfigureAwait(false);
        }
    }

    private static string Bytes(long n) => PlasmaStore.Bytes(n);
}
