using System.Net;
using System.Text;
using RaySharp.Core.Jobs;
using RaySharp.Core.Rpc;

namespace RaySharp.Dashboard;

/// <summary>A minimal landing page (<c>/</c>): the nodes and the most recent jobs. The full web UI replaces it.</summary>
internal sealed class IndexModule(GcsClient gcs, JobInfoStore jobs) : IDashboardModule
{
    public void Map(IEndpointRouteBuilder routes) => routes.MapGet("/", () =>
    {
        var html = new StringBuilder("<!doctype html><html><head><meta charset=\"utf-8\"><title>RaySharp</title></head><body><h1>RaySharp cluster</h1>");
        html.Append("<h2>Nodes</h2><table><tr><th>node</th><th>state</th><th>address</th><th>resources</th></tr>");
        foreach (var n in gcs.GetAllNodes().Nodes)
            html.Append($"<tr><td>{E(n.NodeId.ToString())}{(n.IsHead ? " (head)" : "")}</td><td>{(n.Alive ? "ALIVE" : "DEAD")}</td>" +
                $"<td>{E(n.RayletEndpoint)}</td><td>{E(string.Join(", ", n.Total.Select(kv => $"{kv.Key}: {kv.Value}")))}</td></tr>");
        html.Append("</table><h2>Recent jobs</h2><table><tr><th>submission</th><th>status</th><th>entrypoint</th></tr>");
        foreach (var j in jobs.All().Reverse().Take(20))
            html.Append($"<tr><td>{E(j.SubmissionId)}</td><td>{E(j.Status)}</td><td><code>{E(j.Entrypoint)}</code></td></tr>");
        html.Append("</table></body></html>");
        return Results.Content(html.ToString(), "text/html; charset=utf-8");
    });

    private static string E(string s) => WebUtility.HtmlEncode(s);
}
