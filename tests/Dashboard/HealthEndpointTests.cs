using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using RaySharp.Core;
using RaySharp.Core.Rpc;
using Xunit;

namespace RaySharp.Dashboard.Tests;

/// <summary><c>/api/gcs_healthz</c>, the route a Kubernetes readiness probe of the head calls.</summary>
[Collection(DashboardCollection.Name)]
public sealed class HealthEndpointTests(DashboardFixture fixture)
{
    [Fact]
    public async Task The_GCS_health_check_answers_success_without_a_token_while_the_GCS_answers()
    {
        using var response = await fixture.Http.GetAsync("/api/gcs_healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("success", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_GCS_health_check_answers_503_with_the_reason_when_no_GCS_answers()
    {
        // A port nothing listens on: the GCS is gone.
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int closedPort = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();

        var gcs = new GcsClient($"127.0.0.1:{closedPort}", RayConfig.Default with { AuthToken = ClusterToken.Generate() });
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = builder.Build();
        new HealthModule(gcs, NullLogger<HealthModule>.Instance).Map(app);
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()), Timeout = TimeSpan.FromSeconds(30) };

        using var response = await http.GetAsync("/api/gcs_healthz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.StartsWith("the GCS is not healthy", await response.Content.ReadAsStringAsync());
    }
}
