using RaySharp.Core.Rpc;
using RaySharp.State;

namespace RaySharp.Dashboard.State;

/// <summary>
/// The state API over HTTP (Ray's <c>/api/v0/...</c>): <c>GET /api/v0/nodes|actors|tasks|objects|placement_groups|jobs</c>
/// with <see cref="StateQuery"/>'s parameters, and <c>GET /api/v0/tasks|actors|objects/summarize</c>. The dashboard reads
/// the GCS as a client (its own <see cref="GcsClient"/>, as the CLI does), not through a driver's core worker. Rows have
/// Ray's field names; the envelope is <see cref="StateReply"/>'s. Reads only: no route here changes state.
/// </summary>
internal sealed class StateModule(GcsClient gcs, ILogger<StateModule> log) : IDashboardModule
{
    private readonly GcsStateSource _source = new(gcs);

    public void Map(IEndpointRouteBuilder routes)
    {
        MapList(routes, "nodes", q => StateApi.Limit(_source.Nodes(), q.Limit, q.Filters, "nodes"));
        MapList(routes, "actors", q => StateApi.Limit(_source.Actors(), q.Limit, q.Filters, "actors"));
        MapList(routes, "placement_groups", q => StateApi.Limit(_source.PlacementGroups(), q.Limit, q.Filters, "placement groups"));
        MapList(routes, "jobs", q => StateApi.Limit(_source.Jobs(), q.Limit, q.Filters, "jobs"));
        MapList(routes, "tasks", q => StateApi.ListTasks(_source, q.Limit, q.Filters));
        MapList(routes, "objects", q => StateApi.ListObjects(_source, q.Limit, q.Filters));

        // Ray nests a summary per node under "node_id_to_summary"; RaySharp summarizes the whole cluster, as Ray's "cluster" entry.
        routes.MapGet("/api/v0/tasks/summarize", () => Summary(() => StateApi.SummarizeTasks(_source)));
        routes.MapGet("/api/v0/actors/summarize", () => Summary(() => StateApi.SummarizeActors(_source)));
        routes.MapGet("/api/v0/objects/summarize", () => Summary(() => StateApi.SummarizeObjects(_source)));
    }

    /// <summary>A list route; the state API names a filter key the rows do not have (an <see cref="ArgumentException"/>, so a 400)
    /// even when no row matches.</summary>
    private void MapList<T>(IEndpointRouteBuilder routes, string route, Func<StateQuery, ListResult<T>> list) =>
        routes.MapGet("/api/v0/" + route, (HttpRequest request) => StateReply.Run(() => StateReply.List(list(StateQuery.Parse(request.Query))), log));

    private IResult Summary(Func<object> summarize) => StateReply.Run(() =>
        StateReply.Ok(new Dictionary<string, object> { ["node_id_to_summary"] = new Dictionary<string, object> { ["cluster"] = summarize() } }), log);
}
