using RaySharp.Core;
using RaySharp.Jobs;

namespace RaySharp.Cli;

/// <summary>
/// <c>raysharp job submit|status|logs|stop|delete|list</c> (API.md §8): a <see cref="JobSubmissionClient"/> of the head's
/// dashboard, named by <c>--address http://HOST:PORT</c> or <c>RAY_ADDRESS</c> (a dashboard URL, or a GCS
/// <c>HOST:PORT</c> whose head runs on this machine: its session directory names its dashboard), else the head started
/// here by <c>raysharp start --head</c>, else <c>http://127.0.0.1:8265</c>.
/// </summary>
internal static class JobCommands
{
    public const string Usage = """
          job submit [--address http://HOST:8265] [--working-dir DIR] [--submission-id ID] [--env KEY=VALUE]... [--no-wait] -- ENTRYPOINT...
                                     run ENTRYPOINT (a shell command line) on the head node as a job; prints its ID, then
                                     its output; exits 0 only when the job succeeded
          job status|logs|stop|delete ID [--address http://HOST:8265] [--follow (logs)]
          job list [--address http://HOST:8265]
        """;

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        if (args.Length == 0) throw new ArgumentException("raysharp job needs one of: submit, status, logs, stop, delete, list.");
        var (options, flags, positional, entrypoint) = Parse(args.AsSpan(1));
        using var client = new JobSubmissionClient(DashboardAddress(options.GetValueOrDefault("address")));
        try
        {
            switch (args[0])
            {
                case "submit":
                    return await SubmitAsync(client, options, flags, entrypoint, output).ConfigureAwait(false);
                case "list":
                    foreach (var job in await client.ListJobsAsync().ConfigureAwait(false)) output.WriteLine(Describe(job));
                    return 0;
                case "status" or "logs" or "stop" or "delete":
                    string id = positional.Count == 1 ? positional[0] : throw new ArgumentException($"raysharp job {args[0]} needs one job ID.");
                    return await OnJobAsync(client, args[0], id, flags.Contains("follow"), output).ConfigureAwait(false);
                default:
                    throw new ArgumentException($"Unknown job command '{args[0]}'; use submit, status, logs, stop, delete or list.");
            }
        }
        catch (JobNotFoundException e)
        {
            error.WriteLine(e.Message);
            return 1;
        }
        catch (RayException e)
        {
            error.WriteLine($"raysharp job {args[0]}: {e.Message}");
            return 1;
        }
    }

    private static async Task<int> SubmitAsync(JobSubmissionClient client, Dictionary<string, string> options, HashSet<string> flags, string? entrypoint,
        TextWriter output)
    {
        if (string.IsNullOrWhiteSpace(entrypoint)) throw new ArgumentException("raysharp job submit needs an entrypoint after --, e.g. -- dotnet MyApp.dll.");
        Dictionary<string, string>? env = null;
        if (options.TryGetValue("env", out var pairs))
            foreach (var pair in pairs.Split('\n'))
            {
                int at = pair.IndexOf('=', StringComparison.Ordinal);
                if (at <= 0) throw new ArgumentException($"--env takes KEY=VALUE, not '{pair}'.");
                (env ??= [])[pair[..at]] = pair[(at + 1)..];
            }
        string? workingDir = options.GetValueOrDefault("working-dir");
        if (workingDir is not null && !Directory.Exists(workingDir)) throw new ArgumentException($"--working-dir '{workingDir}' is not a directory.");
        string id = await client.SubmitJobAsync(new JobSubmission
        {
            Entrypoint = entrypoint,
            SubmissionId = options.GetValueOrDefault("submission-id"),
            RuntimeEnv = env is null && workingDir is null ? null : new RuntimeEnv { EnvVars = env, WorkingDir = workingDir },
        }).ConfigureAwait(false);
        output.WriteLine($"Job '{id}' submitted.");
        if (flags.Contains("no-wait"))
        {
            output.WriteLine($"Follow it with: raysharp job logs {id} --follow; its status: raysharp job status {id}");
            return 0;
        }
        await foreach (var line in client.TailJobLogsAsync(id).ConfigureAwait(false)) output.WriteLine(line);
        var info = await client.GetJobInfoAsync(id).ConfigureAwait(false);
        output.WriteLine(Describe(info));
        return info.Status == JobStatus.Succeeded ? 0 : 1;
    }

    private static async Task<int> OnJobAsync(JobSubmissionClient client, string command, string id, bool follow, TextWriter output)
    {
        switch (command)
        {
            case "status":
                output.WriteLine(Describe(await client.GetJobInfoAsync(id).ConfigureAwait(false)));
                return 0;
            case "logs" when follow:
                await foreach (var line in client.TailJobLogsAsync(id).ConfigureAwait(false)) output.WriteLine(line);
                return 0;
            case "logs":
                output.Write(await client.GetJobLogsAsync(id).ConfigureAwait(false));
                return 0;
            case "stop":
                output.WriteLine(await client.StopJobAsync(id).ConfigureAwait(false) ? $"Job '{id}' stopped." : $"Job '{id}' had already finished.");
                return 0;
            default:
                try
                {
                    await client.DeleteJobAsync(id).ConfigureAwait(false);
                }
                catch (InvalidOperationException e)
                {
                    throw new RayException(e.Message);
                }
                output.WriteLine($"Job '{id}' deleted.");
                return 0;
        }
    }

    private static string Describe(JobDetails job) =>
        $"{job.SubmissionId}  {job.Status.ToString().ToUpperInvariant()}" + (job.DriverExitCode is { } code ? $" (exit code {code})" : "") +
        $"  {job.Entrypoint}" + (job.Message is { Length: > 0 } m ? $"  — {m}" : "");

    /// <summary>Options (<c>--env</c> may repeat), the flags <c>--no-wait</c> and <c>--follow</c>, positional words, and
    /// everything after <c>--</c> joined as the entrypoint.</summary>
    private static (Dictionary<string, string>, HashSet<string>, List<string>, string?) Parse(ReadOnlySpan<string> args)
    {
        var options = new Dictionary<string, string>();
        var flags = new HashSet<string>();
        var positional = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--") return (options, flags, positional, string.Join(' ', args[(i + 1)..].ToArray()));
            if (!args[i].StartsWith("--", StringComparison.Ordinal)) { positional.Add(args[i]); continue; }
            string key = args[i][2..];
            if (key is "no-wait" or "follow") { flags.Add(key); continue; }
            if (key is not ("address" or "working-dir" or "submission-id" or "env")) throw new ArgumentException($"raysharp job: unknown option --{key}.");
            if (i + 1 >= args.Length) throw new ArgumentException($"--{key} needs a value.");
            string value = args[++i];
            options[key] = key == "env" && options.TryGetValue(key, out var earlier) ? earlier + "\n" + value : value;
        }
        return (options, flags, positional, null);
    }

    /// <summary>The dashboard to talk to (see the class summary).</summary>
    internal static string DashboardAddress(string? address)
    {
        address ??= Environment.GetEnvironmentVariable("RAY_ADDRESS");
        if (address is not null)
        {
            if (address.StartsWith("http://", StringComparison.Ordinal) || address.StartsWith("https://", StringComparison.Ordinal)) return address;
            return DashboardOfGcs(address) ?? throw new ArgumentException(
                $"'{address}' is a GCS address and no head node on this machine names its dashboard; give --address http://HOST:8265.");
        }
        return Commands.RecordedDashboard() ?? $"http://127.0.0.1:{Core.Worker.DashboardProcess.DefaultPort}";
    }

    private static string? DashboardOfGcs(string gcsAddress)
    {
        string root = Path.Combine(Path.GetTempPath(), "raysharp");
        if (!Directory.Exists(root)) return null;
        foreach (var session in new DirectoryInfo(root).EnumerateDirectories("session_*").OrderByDescending(d => d.LastWriteTimeUtc))
        {
            try
            {
                string gcsFile = Path.Combine(session.FullName, ClusterToken.AddressFileName);
                string dashboardFile = Path.Combine(session.FullName, ClusterToken.DashboardAddressFileName);
                if (File.Exists(gcsFile) && File.Exists(dashboardFile) && File.ReadAllText(gcsFile).Trim() == gcsAddress)
                    return File.ReadAllText(dashboardFile).Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Another user's session.
            }
        }
        return null;
    }
}
