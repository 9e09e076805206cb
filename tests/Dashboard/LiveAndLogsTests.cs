using System.Net;
using System.Text.Json.Nodes;
using Xunit;

namespace RaySharp.Dashboard.Tests;

/// <summary>Server-Sent Events of cluster snapshots, the read-only log viewer's API, and how the page itself is served.</summary>
[Collection(DashboardCollection.Name)]
public sealed class LiveAndLogsTests(DashboardFixture fixture)
{
    [Fact]
    public async Task The_event_stream_sends_snapshots_and_forgets_a_client_that_went_away()
    {
        using (var cts = new CancellationTokenSource(DashboardFixture.Deadline))
        {
            using var response = await fixture.Http.GetAsync("/api/events", HttpCompletionOption.ResponseHeadersRead, cts.Token);
            Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
            var snapshots = new List<JsonNode>();
            string? eventName = null;
            while (snapshots.Count < 2 && await reader.ReadLineAsync(cts.Token) is { } line)
            {
                if (line.StartsWith("event: ", StringComparison.Ordinal)) eventName = line[7..];
                else if (line.StartsWith("data: ", StringComparison.Ordinal) && eventName == "snapshot") snapshots.Add(JsonNode.Parse(line[6..])!);
            }
            Assert.Equal(2, snapshots.Count);
            var first = snapshots[0];
            Assert.Null(first["error"]);
            Assert.Equal(1, first["nodes_alive"]!.GetValue<int>());
            Assert.Equal(fixture.Cluster.Head.NodeId.ToString(), first["nodes"]![0]!["node_id"]!.GetValue<string>());
            Assert.Equal(2, first["resources"]!["CPU"]!["total"]!.GetValue<double>());
            Assert.True(snapshots[1]["event_clients"]!.GetValue<int>() >= 1, "a snapshot read while the stream is open counts it");
            Assert.True(snapshots[1]["time_ms"]!.GetValue<long>() > first["time_ms"]!.GetValue<long>(), "the second snapshot is a later reading");
        }
        // The stream is closed: the dashboard notices and stops counting it.
        var until = DateTime.UtcNow + DashboardFixture.Deadline;
        while (true)
        {
            var (_, snapshot) = await fixture.GetJsonAsync("/api/cluster");
            if (snapshot["event_clients"]!.GetValue<int>() == 0) break;
            Assert.True(DateTime.UtcNow < until, "the closed event stream is still counted: " + snapshot.ToJsonString());
            await Task.Delay(200); // polling the snapshot for the count to drop
        }
    }

    [Fact]
    public async Task The_overview_snapshot_lists_recent_jobs_and_counts_tasks_and_actors()
    {
        var w = await fixture.Workload;
        var (status, snapshot) = await fixture.GetJsonAsync("/api/cluster");
        Assert.Equal(HttpStatusCode.OK, status);
        var job = snapshot["jobs"]!.AsArray().Single(j => j!["submission_id"]!.GetValue<string>() == w.SubmissionId)!;
        Assert.Equal("SUCCEEDED", job["status"]!.GetValue<string>());
        Assert.Equal(w.Entrypoint, job["entrypoint"]!.GetValue<string>());
        Assert.True(snapshot["tasks_by_state"]!["FINISHED"]!.GetValue<int>() >= 3, snapshot.ToJsonString());
        Assert.True(snapshot["actors_by_state"]!["ALIVE"]!.GetValue<int>() >= 1, snapshot.ToJsonString());
    }

    [Fact]
    public async Task Log_files_are_listed_and_read_from_the_session_log_directory_only()
    {
        var (status, body) = await fixture.GetJsonAsync("/api/v0/logs");
        Assert.Equal(HttpStatusCode.OK, status);
        var files = body["data"]!["result"]!["files"]!.AsArray();
        Assert.Contains(files, f => f!["name"]!.GetValue<string>() == "dashboard.log" && f["kind"]!.GetValue<string>() == "dashboard");

        using var log = await fixture.Http.GetAsync("/api/v0/logs/file?filename=dashboard.log&lines=5");
        Assert.Equal(HttpStatusCode.OK, log.StatusCode);
        string text = await log.Content.ReadAsStringAsync();
        Assert.InRange(text.TrimEnd('\n').Split('\n').Length, 1, 5);

        // The token sits next to logs/; a link in logs/ pointing at it is not followed either.
        string link = Path.Combine(fixture.Cluster.SessionDir, "logs", "pointer.log");
        File.CreateSymbolicLink(link, Path.Combine(fixture.Cluster.SessionDir, Core.ClusterToken.FileName));
        try
        {
            foreach (var (name, expected) in new[]
            {
                ("../auth_token", HttpStatusCode.BadRequest), ("..%2Fauth_token", HttpStatusCode.BadRequest), ("%2Fetc%2Fpasswd", HttpStatusCode.BadRequest),
                ("auth_token", HttpStatusCode.NotFound), ("pointer.log", HttpStatusCode.NotFound), ("", HttpStatusCode.BadRequest),
                ("..", HttpStatusCode.BadRequest),
            })
            {
                using var refused = await fixture.Http.GetAsync("/api/v0/logs/file?filename=" + name);
                string answer = await refused.Content.ReadAsStringAsync();
                Assert.True(expected == refused.StatusCode, $"{name}: {refused.StatusCode} {answer}");
                Assert.DoesNotContain(fixture.Token, answer, StringComparison.Ordinal);
            }
            using var badLines = await fixture.Http.GetAsync("/api/v0/logs/file?filename=dashboard.log&lines=-1");
            Assert.Equal(HttpStatusCode.BadRequest, badLines.StatusCode);
        }
        finally
        {
            File.Delete(link);
        }
    }

    [Fact]
    public async Task The_page_and_its_assets_are_served_locally_under_a_strict_content_policy()
    {
        using var page = await fixture.Http.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        string html = await page.Content.ReadAsStringAsync();
        Assert.Contains("/static/app.js", html, StringComparison.Ordinal);
        Assert.DoesNotContain("http://", html, StringComparison.Ordinal); // nothing from elsewhere
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
        string policy = string.Join(";", page.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self'", policy, StringComparison.Ordinal);
        using var script = await fixture.Http.GetAsync("/static/app.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        using var missing = await fixture.Http.GetAsync("/static/..%2Fappsettings.json");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }
}
