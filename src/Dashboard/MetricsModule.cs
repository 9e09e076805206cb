using RaySharp.Core.Rpc;
using RaySharp.Core.Stats;

namespace RaySharp.Dashboard;

/// <summary>
/// <c>GET /metrics</c>: the whole cluster's metrics as Prometheus text — every alive node's own export (and a GCS that
/// runs in a process of its own), each sample labelled with its <c>node_id</c>. A node that does not answer is named
/// in a comment line and left out; a GCS that does not answer gives 503, since the node list comes from it.
/// </summary>
internal sealed class MetricsModule(GcsClient gcs, ILogger<MetricsModule> log) : IDashboardModule
{
    public void Map(IEndpointRouteBuilder routes) =>
        routes.MapGet("/metrics", async (HttpContext context) =>
        {
            string text;
            try
            {
                text = await ClusterMetrics.ScrapeAllAsync(gcs, context.RequestAborted).ConfigureAwait(false);
            }
            catch (RayException e)
            {
                log.LogWarning("A /metrics scrape could not read the node list from the GCS: {Message}", e.Message);
                return Results.Text($"# the GCS did not answer: {e.Message}\n", PrometheusText.ContentType, statusCode: StatusCodes.Status503ServiceUnavailable);
            }
            return Results.Text(text, PrometheusText.ContentType);
        });
}
