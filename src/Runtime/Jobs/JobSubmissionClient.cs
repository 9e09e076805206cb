using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;
using RaySharp.Core;
using RaySharp.Core.Jobs;
using RaySharp.Core.Packaging;

namespace RaySharp.Jobs;

/// <summary>
/// Submits and manages jobs through the head node's dashboard (<c>/api/jobs/</c>, Ray's routes and field names).
/// Calls that change state carry the cluster token as <c>Authorization: Bearer</c>: <c>RAY_AUTH_TOKEN</c>, or on the
/// head's machine the token its session directory holds. A local <see cref="RuntimeEnv.WorkingDir"/> is packed and
/// uploaded (<c>PUT /api/packages/gcs/…</c>) before the job is submitted.
/// </summary>
public sealed class JobSubmissionClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly string _address;
    private readonly string? _token;

    /// <summary>A client of the dashboard at <paramref name="address"/> (<c>http://HOST:PORT</c>, default port 8265).</summary>
    /// <exception cref="ArgumentException">The address is not an http(s) URL.</exception>
    public JobSubmissionClient(string address) : this(address, null) { }

    internal JobSubmissionClient(string address, HttpMessageHandler? handler)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        if (!Uri.TryCreate(address.Contains("://", StringComparison.Ordinal) ? address : "http://" + address, UriKind.Absolute, out var uri) ||
            uri.Scheme is not ("http" or "https"))
            throw new ArgumentException($"'{address}' is not a dashboard address; give http://HOST:PORT (the head's --dashboard-port, default 8265).",
                nameof(address));
        _address = uri.GetLeftPart(UriPartial.Authority);
        _http = handler is null ? new HttpClient() : new HttpClient(handler);
        _http.BaseAddress = new Uri(_address + "/");
        _http.Timeout = Timeout.InfiniteTimeSpan;
        _token = Environment.GetEnvironmentVariable(ClusterToken.Variable) is { Length: > 0 } t ? t.Trim()
            : ClusterToken.FindLocalForDashboard(_address)?.Value;
    }

    /// <summary>Submits a job and returns its submission ID.</summary>
    /// <exception cref="ArgumentException">The submission is invalid, or its ID is taken.</exception>
    public async Task<string> SubmitJobAsync(JobSubmission submission, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(submission);
        if (string.IsNullOrWhiteSpace(submission.Entrypoint)) throw new ArgumentException("JobSubmission.Entrypoint is empty.", nameof(submission));
        submission.RuntimeEnv?.Validate(nameof(submission));
        string? workingDir = submission.RuntimeEnv?.WorkingDir;
        if (workingDir is not null && !WorkingDirPackage.IsUri(workingDir)) workingDir = await UploadAsync(workingDir, ct).ConfigureAwait(false);
        var body = new JobSubmitRequest
        {
            Entrypoint = submission.Entrypoint,
            SubmissionId = submission.SubmissionId,
            Metadata = submission.Metadata is null ? null : new Dictionary<string, string>(submission.Metadata),
            RuntimeEnv = submission.RuntimeEnv is null ? null : new JobRuntimeEnv
            {
                WorkingDir = workingDir,
                EnvVars = submission.RuntimeEnv.EnvVars is null ? null : new Dictionary<string, string>(submission.RuntimeEnv.EnvVars),
            },
        };
        using var response = await SendAsync(HttpMethod.Post, "api/jobs/", JsonContent.Create(body, options: JobInfo.Json), ct).ConfigureAwait(false);
        await ThrowOnErrorAsync(response, submission.SubmissionId, ct).ConfigureAwait(false);
        var reply = await response.Content.ReadFromJsonAsync<Dictionary<string, string?>>(ct).ConfigureAwait(false);
        return reply?.GetValueOrDefault("submission_id") ?? throw new RayException($"The dashboard at {_address} accepted the job without naming it.");
    }

    /// <summary>Packs a directory and uploads it unless the dashboard already has that package.</summary>
    private async Task<string> UploadAsync(string directory, CancellationToken ct)
    {
        var (uri, zip) = WorkingDirPackage.Pack(directory, RayConfig.Default.InternalKvMaxValueSize);
        string path = "api/packages/gcs/" + uri["gcs://".Length..];
        using (var exists = await SendAsync(HttpMethod.Get, path, null, ct).ConfigureAwait(false))
            if (exists.StatusCode == HttpStatusCode.OK) return uri;
        var content = new ByteArrayContent(zip);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/zip");
        using var response = await SendAsync(HttpMethod.Put, path, content, ct).ConfigureAwait(false);
        await ThrowOnErrorAsync(response, null, ct).ConfigureAwait(false);
        return uri;
    }

    /// <summary>The job's status.</summary>
    /// <exception cref="JobNotFoundException">No such job.</exception>
    public async Task<JobStatus> GetJobStatusAsync(string submissionId, CancellationToken ct = default) =>
        (await GetJobInfoAsync(submissionId, ct).ConfigureAwait(false)).Status;

    /// <summary>Everything recorded about the job.</summary>
    /// <exception cref="JobNotFoundException">No such job.</exception>
    public async Task<JobDetails> GetJobInfoAsync(string submissionId, CancellationToken ct = default)
    {
        using var response = await SendAsync(HttpMethod.Get, JobPath(submissionId), null, ct).ConfigureAwait(false);
        await ThrowOnErrorAsync(response, submissionId, ct).ConfigureAwait(false);
        var info = await response.Content.ReadFromJsonAsync<JobInfo>(JobInfo.Json, ct).ConfigureAwait(false);
        return info?.ToDetails() ?? throw new RayException($"The dashboard at {_address} answered an empty job record for '{submissionId}'.");
    }

    /// <summary>The submitted jobs, oldest first.</summary>
    public async Task<IReadOnlyList<JobDetails>> ListJobsAsync(CancellationToken ct = default)
    {
        using var response = await SendAsync(HttpMethod.Get, "api/jobs/", null, ct).ConfigureAwait(false);
        await ThrowOnErrorAsync(response, null, ct).ConfigureAwait(false);
        var jobs = await response.Content.ReadFromJsonAsync<List<JobInfo>>(JobInfo.Json, ct).ConfigureAwait(false) ?? [];
        return [.. jobs.Select(j => j.ToDetails())];
    }

    /// <summary>The job's output so far (its entrypoint's stdout and stderr).</summary>
    /// <exception cref="JobNotFoundException">No such job.</exception>
    public async Task<string> GetJobLogsAsync(string submissionId, CancellationToken ct = default)
    {
        using var response = await SendAsync(HttpMethod.Get, JobPath(submissionId) + "/logs", null, ct).ConfigureAwait(false);
        await ThrowOnErrorAsync(response, submissionId, ct).ConfigureAwait(false);
        var reply = await response.Content.ReadFromJsonAsync<Dictionary<string, string?>>(ct).ConfigureAwait(false);
        return reply?.GetValueOrDefault("logs") ?? "";
    }

    /// <summary>The job's output line by line, from the start, following it as it is written; the sequence ends when the
    /// job has reached a final status and all its output was read (a chunked HTTP response the dashboard keeps open).</summary>
    /// <exception cref="JobNotFoundException">No such job.</exception>
    public async IAsyncEnumerable<string> TailJobLogsAsync(string submissionId, [EnumeratorCancellation] CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, JobPath(submissionId) + "/logs/tail");
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        await ThrowOnErrorAsync(response, submissionId, ct).ConfigureAwait(false);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false));
        while (await reader.ReadLineAsync(ct).ConfigureAwait(false) is { } line) yield return line;
    }

    /// <summary>Stops the job (SIGTERM, then SIGKILL after a grace period). False when it had already finished.</summary>
    /// <exception cref="JobNotFoundException">No such job.</exception>
    public async Task<bool> StopJobAsync(string submissionId, CancellationToken ct = default)
    {
        using var response = await SendAsync(HttpMethod.Post, JobPath(submissionId) + "/stop", null, ct).ConfigureAwait(false);
        await ThrowOnErrorAsync(response, submissionId, ct).ConfigureAwait(false);
        var reply = await response.Content.ReadFromJsonAsync<Dictionary<string, bool>>(ct).ConfigureAwait(false);
        return reply?.GetValueOrDefault("stopped") ?? false;
    }

    /// <summary>Deletes a finished job's record and logs.</summary>
    /// <exception cref="JobNotFoundException">No such job.</exception>
    /// <exception cref="InvalidOperationException">The job has not finished (stop it first).</exception>
    public async Task<bool> DeleteJobAsync(string submissionId, CancellationToken ct = default)
    {
        using var response = await SendAsync(HttpMethod.Delete, JobPath(submissionId), null, ct).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.BadRequest)
            throw new InvalidOperationException(await ReadErrorAsync(response, ct).ConfigureAwait(false));
        await ThrowOnErrorAsync(response, submissionId, ct).ConfigureAwait(false);
        var reply = await response.Content.ReadFromJsonAsync<Dictionary<string, bool>>(ct).ConfigureAwait(false);
        return reply?.GetValueOrDefault("deleted") ?? false;
    }

    private static string JobPath(string submissionId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(submissionId);
        return "api/jobs/" + Uri.EscapeDataString(submissionId);
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, HttpContent? content, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        if (_token is not null && method != HttpMethod.Get) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        try
        {
            return await _http.SendAsync(request, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new RayException($"Cannot reach the RaySharp dashboard at {_address}: {e.Message}. Check the head node runs with a dashboard " +
                "(raysharp start --head, --dashboard-port) and the address.", e);
        }
    }

    private async Task ThrowOnErrorAsync(HttpResponseMessage response, string? submissionId, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode) return;
        string detail = await ReadErrorAsync(response, ct).ConfigureAwait(false);
        throw response.StatusCode switch
        {
            HttpStatusCode.NotFound when submissionId is not null => new JobNotFoundException(submissionId),
            HttpStatusCode.BadRequest => new ArgumentException(detail),
            HttpStatusCode.Unauthorized => new RayException(
                $"The dashboard at {_address} refused the call: no valid cluster token. Set {ClusterToken.Variable} to the token in the head " +
                $"node's <session dir>/{ClusterToken.FileName} (on the head's machine it is found by itself). {detail}"),
            _ => new RayException($"The dashboard at {_address} answered {(int)response.StatusCode} {response.ReasonPhrase}: {detail}"),
        };
    }

    private static async Task<string> ReadErrorAsync(HttpResponseMessage response, CancellationToken ct)
    {
        string text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        return text.Length > 2000 ? text[..2000] + "…" : text.Trim();
    }

    /// <inheritdoc/>
    public void Dispose() => _http.Dispose();
}
