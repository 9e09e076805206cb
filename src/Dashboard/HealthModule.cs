using RaySharp.Core.Rpc;

namespace RaySharp.Dashboard;

/// <summary>
/// <c>GET /api/gcs_healthz</c> (Ray's route): 200 <c>success</c> when the GCS answers for its node table within
/// <see cref="Timeout"/>, 503 with the reason otherwise. Kubernetes' readiness probe of a head pod calls it
/// (deploy/kubernetes); it needs no token, as it changes nothing and tells nothing about the cluster.
/// </summary>
internal sealed class HealthModule(GcsClient gcs, ILogger<HealthModule> log) : IDashboardModule
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    public void Map(IEndpointRouteBuilder routes) =>
        routes.MapGet("/api/gcs_healthz", async (HttpContext context) =>
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            deadline.CancelAfter(Timeout);
            try
            {
                await gcs.GetAllNodesAsync(deadline.Token).ConfigureAwait(false);
                return Results.Text("success");
            }
            catch (Exception e) when (e is RayException or OperationCanceledException && !context.RequestAborted.IsCancellationRequested)
            {
                string reason = e is OperationCanceledException ? $"no answer within {Timeout.TotalSeconds:0} s" : e.Message;
                log.LogWarning("GCS health check failed: {Reason}", reason);
                return Results.Text($"the GCS is not healthy: {reason}", statusCode: StatusCodes.Status503ServiceUnavailable);
            }
        });
}
