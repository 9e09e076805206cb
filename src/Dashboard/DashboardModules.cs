namespace RaySharp.Dashboard;

/// <summary>
/// One area of the dashboard (Ray's dashboard modules: job, state, metrics, ...). Each maps its own routes; the web UI,
/// the <c>/api/v0/...</c> state endpoints and <c>/metrics</c> are added as further modules in <see cref="DashboardApp.Modules"/>.
/// Routes that change state call <see cref="ClusterTokenFilter.RequireClusterToken"/>.
/// </summary>
internal interface IDashboardModule
{
    void Map(IEndpointRouteBuilder routes);
}
