using System.Net;
using System.Text.Json.Nodes;
using Xunit;

namespace RaySharp.Dashboard.Tests;

/// <summary>The dashboard's <c>/api/v0/...</c> state endpoints: Ray's reply shape and field names, limits and filters, and
/// a 400 naming what is wrong with a bad query.</summary>
[Collection(DashboardCollection.Name)]
public sealed class StateEndpointTests(DashboardFixture fixture)
{
    private const string Keeper = "RaySharp.Integration.Driver.Keeper";
    private const string Print = "RaySharp.Integration.Driver.Printer.Print";

    private static JsonNode ListOf(JsonNode body)
    {
        Assert.True(body["result"]!.GetValue<bool>(), body.ToJsonString());
        Assert.Equal("", body["msg"]!.GetValue<string>());
        return body["data"]!["result"]!;
    }

    [Fact]
    public async Task Nodes_are_listed_with_Rays_envelope_and_field_names()
    {
        var (status, body) = await fixture.GetJsonAsync("/api/v0/nodes");
        Assert.Equal(HttpStatusCode.OK, status);
        var list = ListOf(body);
        Assert.Equal(1, list["total"]!.GetValue<int>());
        Assert.Equal(1, list["num_after_truncation"]!.GetValue<int>());
        var node = list["result"]!.AsArray().Single()!;
        Assert.Equal(fixture.Cluster.Head.NodeId.ToString(), node["node_id"]!.GetValue<string>());
        Assert.Equal("ALIVE", node["state"]!.GetValue<string>());
        Assert.True(node["is_head_node"]!.GetValue<bool>());
        Assert.Equal(2, node["resources_total"]!["CPU"]!.GetValue<double>());
    }

    [Fact]
    public async Task Filters_and_limits_select_the_rows_as_Rays_parameters_say()
    {
        var w = await fixture.Workload;
        var (_, dead) = await fixture.GetJsonAsync("/api/v0/nodes?filter_keys=state&filter_values=DEAD");
        Assert.Equal(0, ListOf(dead)["total"]!.GetValue<int>());
        var (_, notDead) = await fixture.GetJsonAsync("/api/v0/nodes?filter_keys=state&filter_predicates=!%3D&filter_values=DEAD");
        Assert.Equal(1, ListOf(notDead)["total"]!.GetValue<int>());

        var (_, actors) = await fixture.GetJsonAsync($"/api/v0/actors?filter_keys=name&filter_values={w.ActorName}&filter_keys=state&filter_values=ALIVE");
        var actor = ListOf(actors)["result"]!.AsArray().Single()!;
        Assert.Equal(Keeper, actor["class_name"]!.GetValue<string>());
        Assert.Equal(0, actor["num_restarts"]!.GetValue<int>());

        var (_, printed) = await fixture.GetJsonAsync($"/api/v0/tasks?filter_keys=func_or_class_name&filter_values={Print}&filter_keys=state&filter_values=FINISHED");
        var task = ListOf(printed)["result"]!.AsArray().Single()!;
        Assert.Equal("NORMAL_TASK", task["type"]!.GetValue<string>());
        Assert.Equal(Print, task["func_or_class_name"]!.GetValue<string>());

        // The detached actor's worker lives on, so its own events (with its pid) arrive with its next batch.
        var (_, others) = await fixture.GetJsonAsync($"/api/v0/tasks?filter_keys=func_or_class_name&filter_predicates=!%3D&filter_values={Print}");
        Assert.DoesNotContain(ListOf(others)["result"]!.AsArray(), t => t!["func_or_class_name"]!.GetValue<string>() == Print);
        var called = await fixture.GetJsonUntilAsync($"/api/v0/tasks?filter_keys=func_or_class_name&filter_values={Keeper}.Increment",
            b => ListOf(b)["result"]!.AsArray().SingleOrDefault()?["worker_pid"] is not null, "the actor's call with its worker's pid");
        var call = ListOf(called)["result"]!.AsArray().Single()!;
        Assert.Equal("ACTOR_TASK", call["type"]!.GetValue<string>());
        Assert.Equal(actor["actor_id"]!.GetValue<string>(), call["actor_id"]!.GetValue<string>());
        Assert.True(call["worker_pid"]!.GetValue<int>() > 0);

        var (_, one) = await fixture.GetJsonAsync("/api/v0/tasks?limit=1");
        var limited = ListOf(one);
        Assert.Single(limited["result"]!.AsArray());
        Assert.True(limited["total"]!.GetValue<int>() >= 3, limited.ToJsonString()); // the actor's creation and call, the task
    }

    [Fact]
    public async Task Summaries_count_the_tasks_per_function_and_state()
    {
        await fixture.Workload;
        var (status, body) = await fixture.GetJsonAsync("/api/v0/tasks/summarize");
        Assert.Equal(HttpStatusCode.OK, status);
        var cluster = ListOf(body)["node_id_to_summary"]!["cluster"]!;
        Assert.True(cluster["total_tasks"]!.GetValue<int>() >= 3);
        Assert.True(cluster["summary"]![Print]!["state_counts"]!["FINISHED"]!.GetValue<int>() >= 1, cluster.ToJsonString());
        var (_, actors) = await fixture.GetJsonAsync("/api/v0/actors/summarize");
        Assert.True(ListOf(actors)["node_id_to_summary"]!["cluster"]!["summary"]![Keeper]!["state_counts"]!["ALIVE"]!.GetValue<int>() >= 1);
    }

    [Theory]
    [InlineData("/api/v0/tasks?limit=0", "limit is a whole number")]
    [InlineData("/api/v0/tasks?limit=ten", "limit is a whole number")]
    [InlineData("/api/v0/objects?limit=100001", "limit is a whole number")]
    [InlineData("/api/v0/actors?filter_keys=colour&filter_values=red", "no field 'colour'")]
    [InlineData("/api/v0/placement_groups?filter_keys=colour&filter_values=red", "no field 'colour'")]
    [InlineData("/api/v0/nodes?filter_keys=state", "1 filter_keys but 0 filter_values")]
    [InlineData("/api/v0/jobs?filter_keys=status&filter_values=RUNNING&filter_predicates=~", "'=' or '!='")]
    [InlineData("/api/v0/tasks?filter_keys=state&filter_keys=name&filter_values=a&filter_values=b&filter_predicates=%3D", "filter_predicates once per filter")]
    public async Task A_bad_query_is_a_400_that_says_what_is_wrong(string path, string says)
    {
        var (status, body) = await fixture.GetJsonAsync(path);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.False(body["result"]!.GetValue<bool>());
        Assert.Contains(says, body["msg"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_state_routes_change_nothing_and_refuse_other_methods()
    {
        using var post = await fixture.Http.PostAsync("/api/v0/actors", new StringContent("{}"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
    }
}
