using System.Text;
using Microsoft.Extensions.Hosting;

namespace RaySharp.Dashboard.Live;

/// <summary>
/// Live updates for the web UI: <c>GET /api/events</c> is a Server-Sent Events stream whose <c>snapshot</c> events carry
/// each <see cref="ClusterSnapshot"/> (one a second while the stream is open; a comment line every
/// <see cref="KeepAlive"/> if the cluster cannot be read in time), and <c>GET /api/cluster</c> answers the latest one once.
/// At most <see cref="MaxClients"/> streams are open at a time (503 beyond); a stream ends, and stops counting, when its
/// client goes away or the dashboard stops.
/// </summary>
internal sealed class EventsModule(ClusterSnapshots snapshots, IHostApplicationLifetime lifetime) : IDashboardModule
{
    public const int MaxClients = 64;
    public static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);
    private int _clients;

    public void Map(IEndpointRouteBuilder routes)
    {
        routes.MapGet("/api/cluster", async (CancellationToken ct) =>
            Results.Bytes((await snapshots.CurrentAsync(ClusterSnapshots.Interval, ct).ConfigureAwait(false)).Json, "application/json"));

        routes.MapGet("/api/events", async (HttpContext context) =>
        {
            if (Interlocked.Increment(ref _clients) > MaxClients)
            {
                Interlocked.Decrement(ref _clients);
                await Results.Text($"Too many live views are open (at most {MaxClients}); close one or reload later.",
                    statusCode: StatusCodes.Status503ServiceUnavailable).ExecuteAsync(context).ConfigureAwait(false);
                return;
            }
            try
            {
                // A stream never ends by itself: it also ends when the dashboard stops, which otherwise would wait for it.
                using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
                await StreamAsync(context.Response, ended.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
                // The client went away.
            }
            finally
            {
                Interlocked.Decrement(ref _clients);
            }
        });
    }

    private async Task StreamAsync(HttpResponse response, CancellationToken ct)
    {
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        using var watch = snapshots.Watch();
        await response.Body.WriteAsync("retry: 2000\n\n"u8.ToArray(), ct).ConfigureAwait(false);
        await response.Body.FlushAsync(ct).ConfigureAwait(false);
        long version = 0;
        while (!ct.IsCancellationRequested)
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
            wait.CancelAfter(KeepAlive);
            byte[] message;
            try
            {
                var next = await snapshots.NextAsync(version, wait.Token).ConfigureAwait(false);
                version = next.Version;
                // The JSON is on one line (no indentation), so it is one data field.
                message = [.. Encoding.UTF8.GetBytes($"id: {version}\nevent: snapshot\ndata: "), .. next.Json, .. "\n\n"u8];
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                message = ": keep-alive\n\n"u8.ToArray();
            }
            await response.Body.WriteAsync(message, ct).ConfigureAwait(false);
            await response.Body.FlushAsync(ct).ConfigureAwait(false);
        }
    }
}
