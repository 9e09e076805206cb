using System.CommandLine;
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
    /// <summary>How much of a file one read asks for.</summary>
    private const int Chunk = 256 * 1024;

    /// <summary>How often <c>--follow</c> asks for more.</summary>
    private static readonly TimeSpan s_followInterval = TimeSpan.FromMilliseconds(500);

    public static Command Build()
    {
        var cluster = new ClusterOptions();
        var file = new Argument<string?>("FILE")
        {
            Description = "a log file to print, by the name the listing shows (without a directory)", Arity = ArgumentArity.ZeroOrOne,
        };
        file.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } f && (f.Length == 0 || f.IndexOfAny(['/', '\\']) >= 0))
                r.AddError($"'{f}' is not a log file name (names as `raysharp logs` lists them, without a directory).");
        });
        var node = new Option<string?>("--node") { Description = "only this node (its ID, or at least 4 hex digits of it)", HelpName = "ID" };
        var actor = new Option<string?>("--actor") { Description = "print this actor's output (stdout and stderr of its worker)", HelpName = "ID" };
        var follow = new Option<bool>("--follow") { Description = "keep printing what is appended (with FILE or --actor), until Ctrl+C" };
        var command = cluster.AddTo(new Command("logs", "List the log files of the cluster's nodes, or print one: a file by name, or an actor's output.")
            .With(node, actor, follow));
        command.Arguments.Add(file);
        command.Handle((parse, terminal, ct) => RunAsync(parse.GetValue(file), parse.GetValue(node), parse.GetValue(actor), parse.GetValue(follow),
            () => cluster.Connect(parse), terminal.Out, ct));
        return command;
    }

    /// <summary>Lists or prints (see the class); <paramref name="connect"/> is called once the arguments are known good.</summary>
    internal static async Task<int> RunAsync(string? file, string? nodeText, string? actorText, bool follow, Func<ClusterConnection> connect,
        TextWriter output, CancellationToken ct = default)
    {
        ActorId? actor = null;
        if (actorText is not null)
        {
            if (!ActorId.TryParse(actorText, out var parsed)) throw new ArgumentException($"--actor: '{actorText}' is not an actor ID (hex, as `raysharp list actors` shows).");
            if (file is not null) throw new ArgumentException("raysharp logs: give a file name or --actor, not both.");
            actor = parsed;
        }
        if (follow && file is null && actor is null) throw new ArgumentException("--follow needs a file name or --actor ID to follow.");

        var connection = connect();
        var config = connection.Config;
        var nodes = connection.Ask(g => g.GetAllNodes()).Nodes;
        NodeRecord? node = nodeText is not null ? FindNode(nodes, nodeText) : null;

        if (actor is { } actorId)
        {
            var info = connection.Ask(g => g.GetActorInfo(actorId)) ?? throw new ArgumentException($"--actor: the cluster has no actor {actorId}.");
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
