using System.CommandLine;
using System.Globalization;
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
    public static Command Build()
    {
        var job = new Command("job", "Run programs on the cluster as jobs, through the head's dashboard.");
        job.Subcommands.Add(BuildSubmit());
        job.Subcommands.Add(OnOneJob("status", "A job's status, exit code and message.", withFormat: true));
        job.Subcommands.Add(OnOneJob("logs", "A job's output so far (--follow: until it ends)."));
        job.Subcommands.Add(OnOneJob("stop", "Stop a running job."));
        job.Subcommands.Add(OnOneJob("delete", "Forget a finished job and its logs."));
        job.Subcommands.Add(BuildList());
        return job;
    }

    private static Option<string?> Address() => new("--address")
    {
        Description = "the head's dashboard (default: RAY_ADDRESS, else the head started on this machine, else http://127.0.0.1:8265)",
        HelpName = "http://HOST:PORT",
    };

    private static Command BuildSubmit()
    {
        var address = Address();
        var workingDir = new Option<string?>("--working-dir") { Description = "a directory to upload; the entrypoint runs in it", HelpName = "DIR" };
        workingDir.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } dir && !Directory.Exists(dir)) r.AddError($"--working-dir '{dir}' is not a directory.");
        });
        var submissionId = new Option<string?>("--submission-id") { Description = "the job's ID (default: a new one)", HelpName = "ID" };
        var env = new Option<string[]>("--env")
        {
            Description = "an environment variable of the entrypoint; repeat for several", HelpName = "KEY=VALUE",
            Arity = ArgumentArity.OneOrMore, DefaultValueFactory = _ => [],
        };
        env.Validators.Add(r =>
        {
            foreach (var pair in r.GetValueOrDefault<string[]>() ?? [])
                if (pair.IndexOf('=', StringComparison.Ordinal) <= 0) r.AddError($"--env takes KEY=VALUE, not '{pair}'.");
        });
        var noWait = new Option<bool>("--no-wait") { Description = "print the job's ID and return without following it" };
        var entrypoint = new Argument<string[]>("ENTRYPOINT")
        {
            Description = "after --: the shell command line to run on the head node", Arity = ArgumentArity.ZeroOrMore,
        };
        var command = new Command("submit",
            "Run ENTRYPOINT on the head node as a job; print its ID, then its output. Exits 0 only when the job succeeded.")
            .With(address, workingDir, submissionId, env, noWait);
        command.Arguments.Add(entrypoint);
        command.Validators.Add(r =>
        {
            if (r.GetValue(entrypoint) is not { Length: > 0 })
                r.AddError("raysharp job submit needs an entrypoint after --, e.g. -- dotnet MyApp.dll.");
        });
        command.Handle(async (parse, terminal, ct) =>
        {
            var pairs = parse.GetValue(env) ?? [];
            var vars = pairs.Length == 0 ? null : pairs.Select(p => p.Split('=', 2)).GroupBy(p => p[0]).ToDictionary(g => g.Key, g => g.Last()[1]);
            string? dir = parse.GetValue(workingDir);
            var submission = new JobSubmission
            {
                Entrypoint = string.Join(' ', parse.GetValue(entrypoint)!),
                SubmissionId = parse.GetValue(submissionId),
                RuntimeEnv = vars is null && dir is null ? null : new RuntimeEnv { EnvVars = vars, WorkingDir = dir },
            };
            using var client = Client(parse, address);
            return await SubmitAsync(client, submission, parse.GetValue(noWait), terminal, ct).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> SubmitAsync(JobSubmissionClient client, JobSubmission submission, bool noWait, Terminal terminal, CancellationToken ct)
    {
        string id = await client.SubmitJobAsync(submission, ct).ConfigureAwait(false);
        terminal.Out.WriteLine($"Job '{id}' submitted.");
        if (noWait)
        {
            terminal.Out.WriteLine($"Follow it with: raysharp job logs {id} --follow; its status: raysharp job status {id}");
            return 0;
        }
        // Ctrl+C ends this command, not the job (the process's default, as `ray job submit`).
        var info = await terminal.SpinAsync($"Job '{id}' is running (Ctrl+C stops following it, not the job)…", async _ =>
        {
            await foreach (var line in client.TailJobLogsAsync(id, ct).ConfigureAwait(false)) terminal.WriteLine(line);
            return await client.GetJobInfoAsync(id, ct).ConfigureAwait(false);
        }).ConfigureAwait(false);
        terminal.Out.WriteLine(Describe(info));
        return info.Status == JobStatus.Succeeded ? 0 : 1;
    }

    /// <summary><c>job status|logs|stop|delete ID</c>.</summary>
    private static Command OnOneJob(string name, string description, bool withFormat = false)
    {
        var address = Address();
        var id = new Argument<string>("ID") { Description = "the job's submission ID" };
        var follow = new Option<bool>("--follow") { Description = "keep printing the output until the job ends" };
        var format = CliOptions.Format();
        var command = new Command(name, description).With(address);
        command.Arguments.Add(id);
        if (name == "logs") command.Options.Add(follow);
        if (withFormat) command.Options.Add(format);
        command.Handle(async (parse, terminal, ct) =>
        {
            using var client = Client(parse, address);
            string job = parse.GetValue(id)!;
            var output = terminal.Out;
            switch (name)
            {
                case "status":
                    var info = await client.GetJobInfoAsync(job, ct).ConfigureAwait(false);
                    if (parse.GetValue(format) == "json") terminal.WriteJson(JsonRow(info));
                    else output.WriteLine(Describe(info));
                    return 0;
                case "logs" when parse.GetValue(follow):
                    await foreach (var line in client.TailJobLogsAsync(job, ct).ConfigureAwait(false)) output.WriteLine(line);
                    return 0;
                case "logs":
                    output.Write(await client.GetJobLogsAsync(job, ct).ConfigureAwait(false));
                    return 0;
                case "stop":
                    output.WriteLine(await client.StopJobAsync(job, ct).ConfigureAwait(false) ? $"Job '{job}' stopped." : $"Job '{job}' had already finished.");
                    return 0;
                default:
                    try
                    {
                        await client.DeleteJobAsync(job, ct).ConfigureAwait(false);
                    }
                    catch (InvalidOperationException e)
                    {
                        throw new RayException(e.Message); // a job still running: the cluster's answer, not bad input
                    }
                    output.WriteLine($"Job '{job}' deleted.");
                    return 0;
            }
        });
        return command;
    }

    private static Command BuildList()
    {
        var address = Address();
        var format = CliOptions.Format();
        var command = new Command("list", "Every job the cluster knows: ID, status, exit code, entrypoint.").With(address, format);
        command.Handle(async (parse, terminal, ct) =>
        {
            using var client = Client(parse, address);
            var jobs = await client.ListJobsAsync(ct).ConfigureAwait(false);
            if (parse.GetValue(format) == "json") terminal.WriteJson(jobs.Select(JsonRow).ToList());
            else if (terminal.Interactive && jobs.Count > 0)
                terminal.WriteTable(["submission id", "status", "exit code", "entrypoint", "message"], jobs.Select(j => (IReadOnlyList<string>)
                    [j.SubmissionId, Status(j), j.DriverExitCode?.ToString(CultureInfo.InvariantCulture) ?? "", j.Entrypoint, j.Message ?? ""]));
            else if (jobs.Count == 0) terminal.Out.WriteLine("No jobs.");
            else foreach (var job in jobs) terminal.Out.WriteLine(Describe(job));
            return 0;
        });
        return command;
    }

    private static JobSubmissionClient Client(ParseResult parse, Option<string?> address) => new(DashboardAddress(parse.GetValue(address)));

    private static string Status(JobDetails job) => job.Status.ToString().ToUpperInvariant();

    private static string Describe(JobDetails job) =>
        $"{job.SubmissionId}  {Status(job)}" + (job.DriverExitCode is { } code ? $" (exit code {code})" : "") +
        $"  {job.Entrypoint}" + (job.Message is { Length: > 0 } m ? $"  — {m}" : "");

    /// <summary>A job with the field names of Ray's <c>ray job list</c> JSON (times in milliseconds since the epoch).</summary>
    private static Dictionary<string, object?> JsonRow(JobDetails job) => new()
    {
        ["submission_id"] = job.SubmissionId,
        ["status"] = Status(job),
        ["entrypoint"] = job.Entrypoint,
        ["message"] = job.Message,
        ["start_time"] = job.StartTime?.ToUnixTimeMilliseconds(),
        ["end_time"] = job.EndTime?.ToUnixTimeMilliseconds(),
        ["driver_exit_code"] = job.DriverExitCode,
        ["metadata"] = job.Metadata,
    };

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
        return NodeRecords.HeadDashboard() ?? $"http://127.0.0.1:{Core.Worker.DashboardProcess.DefaultPort}";
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
