using System.Text.Json;
using RaySharp.Core;
using RaySharp.Core.Jobs;
using RaySharp.Core.Packaging;

namespace RaySharp.Dashboard.Jobs;

/// <summary>
/// <c>/api/jobs/</c> with Ray's routes and field names, and <c>/api/packages/gcs/…</c> for working-dir uploads:
/// POST /api/jobs/ (submit), GET /api/jobs/ (list), GET /api/jobs/{id}, GET /api/jobs/{id}/logs ({"logs": …}),
/// GET /api/jobs/{id}/logs/tail (the log as a chunked text stream that ends when the job has ended and all of it was sent),
/// POST /api/jobs/{id}/stop ({"stopped": …}), DELETE /api/jobs/{id} ({"deleted": …}), GET and PUT /api/packages/gcs/{name}.
/// POST, PUT and DELETE need the cluster token.
/// </summary>
internal sealed class JobsModule(JobManager jobs, IInternalKv kv, string sessionDir, ClusterToken token, RayConfig config) : IDashboardModule
{
    public void Map(IEndpointRouteBuilder routes)
    {
        routes.MapPost("/api/jobs/", async (HttpRequest request) =>
        {
            JobSubmitRequest? body;
            try
            {
                body = await request.ReadFromJsonAsync<JobSubmitRequest>(JobInfo.Json).ConfigureAwait(false);
            }
            catch (JsonException e)
            {
                return Results.BadRequest($"The request body is not a job submission: {e.Message}");
            }
            if (body is null) return Results.BadRequest("The request body is empty.");
            try
            {
                var info = jobs.Submit(body);
                return Results.Json(new Dictionary<string, string> { ["job_id"] = info.SubmissionId, ["submission_id"] = info.SubmissionId });
            }
            catch (ArgumentException e)
            {
                return Results.BadRequest(e.Message);
            }
        }).RequireClusterToken(token);

        routes.MapGet("/api/jobs/", () => Results.Json(jobs.Store.All(), JobInfo.Json));

        routes.MapGet("/api/jobs/{id}", (string id) => jobs.Store.Get(id) is { } info ? Results.Json(info, JobInfo.Json) : NotFound(id));

        routes.MapGet("/api/jobs/{id}/logs", (string id) => jobs.Store.Get(id) is null ? NotFound(id)
            : Results.Json(new Dictionary<string, string> { ["logs"] = ReadLog(id) }));

        routes.MapGet("/api/jobs/{id}/logs/tail", async (string id, HttpContext context) =>
        {
            if (jobs.Store.Get(id) is null)
            {
                await NotFound(id).ExecuteAsync(context).ConfigureAwait(false);
                return;
            }
            context.Response.ContentType = "text/plain; charset=utf-8";
            await TailAsync(id, context.Response.Body, context.RequestAborted).ConfigureAwait(false);
        });

        routes.MapPost("/api/jobs/{id}/stop", async (string id, CancellationToken ct) =>
            await jobs.StopAsync(id, ct).ConfigureAwait(false) is { } stopped
                ? Results.Json(new Dictionary<string, bool> { ["stopped"] = stopped }) : NotFound(id)).RequireClusterToken(token);

        routes.MapDelete("/api/jobs/{id}", (string id) =>
        {
            try
            {
                return jobs.Delete(id, JobSupervisor.LogPath(sessionDir, id)) is { } deleted
                    ? Results.Json(new Dictionary<string, bool> { ["deleted"] = deleted }) : NotFound(id);
            }
            catch (InvalidOperationException e)
            {
                return Results.BadRequest(e.Message);
            }
        }).RequireClusterToken(token);

        routes.MapGet("/api/packages/gcs/{name}", (string name) =>
            WorkingDirPackage.IsUri("gcs://" + name) && kv.Get(WorkingDirPackage.KvNamespace, "gcs://" + name) is not null
                ? Results.Ok() : Results.NotFound());

        routes.MapPut("/api/packages/gcs/{name}", async (string name, HttpRequest request) =>
        {
            string uri = "gcs://" + name;
            if (!WorkingDirPackage.IsUri(uri)) return Results.BadRequest($"'{name}' is not a package name (_ray_pkg_<hash>.zip).");
            if (request.ContentLength is { } length && length > config.InternalKvMaxValueSize) return TooLarge(length);
            // A chunked body has no length up front: it is read up to the limit, never further.
            using var buffer = new MemoryStream();
            var chunk = new byte[81920];
            int read;
            while ((read = await request.Body.ReadAsync(chunk).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > config.InternalKvMaxValueSize) return TooLarge(buffer.Length + read);
                buffer.Write(chunk, 0, read);
            }
            kv.Put(WorkingDirPackage.KvNamespace, uri, buffer.ToArray(), overwrite: false);
            return Results.Ok();
        }).RequireClusterToken(token);
    }

    private IResult TooLarge(long bytes) => Results.BadRequest(
        $"The package is {bytes} bytes, over the limit of {config.InternalKvMaxValueSize} bytes (internal_kv_max_value_size, RAY_internal_kv_max_value_size).");

    private static IResult NotFound(string id) => Results.NotFound($"Job '{id}' does not exist.");

    private string ReadLog(string id)
    {
        string path = JobSupervisor.LogPath(sessionDir, id);
        if (!File.Exists(path)) return "";
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new StreamReader(stream).ReadToEnd();
    }

    /// <summary>Sends the log from the start and then what is appended to it, until the job has ended and its log is
    /// read to the end (or the caller goes away). Growth of the file is polled: it is written by another process.</summary>
    private async Task TailAsync(string id, Stream output, CancellationToken ct)
    {
        string path = JobSupervisor.LogPath(sessionDir, id);
        long offset = 0;
        var buffer = new byte[16 * 1024];
        while (!ct.IsCancellationRequested)
        {
            // Read the status before the file: a job seen finished has written everything it ever will.
            bool ended = jobs.Store.Get(id) is not { IsTerminal: false };
            if (File.Exists(path))
            {
                await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                stream.Position = Math.Min(offset, stream.Length);
                int n;
                while ((n = await stream.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
                {
                    await output.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                    offset += n;
                }
                await output.FlushAsync(ct).ConfigureAwait(false);
            }
            if (ended) return;
            try { await Task.Delay(200, ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
        }
    }
}
