using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.Stats;

/// <summary>
/// A node's (or the GCS process's) Prometheus endpoint: <c>GET /metrics</c> over HTTP/1.1 on
/// <c>--metrics-export-port</c> (Ray's flag; 0 picks a free port), answering with the text of
/// <see cref="PrometheusText"/>. It is read-only and, like Ray's, carries no cluster token: Prometheus scrapes it. It
/// listens on the node's address (loopback unless <c>--node-ip-address</c> says otherwise).
/// </summary>
internal sealed partial class MetricsExporter : IAsyncDisposable
{
    private readonly WebApplication _app;

    private MetricsExporter(WebApplication app, string host, int port)
    {
        _app = app;
        Host = host;
        Port = port;
    }

    public string Host { get; }

    /// <summary>The bound port.</summary>
    public int Port { get; }

    /// <param name="host">The address to listen on.</param>
    /// <param name="port">The port; 0 for a free one.</param>
    /// <param name="collect">The metrics to export, read at each scrape.</param>
    /// <param name="loggers">Kestrel's warnings go there.</param>
    /// <param name="ct">Cancels the start.</param>
    public static async Task<MetricsExporter> StartAsync(string host, int port, Func<MetricFamily[]> collect, ILoggerFactory? loggers,
        CancellationToken ct = default)
    {
        var builder = EmbeddedWebHost.CreateBuilder("RaySharp.Metrics", loggers);
        builder.WebHost.ConfigureKestrel(o => o.Listen(IPAddress.Parse(host), port, l => l.Protocols = HttpProtocols.Http1));
        var app = builder.Build();
        var logger = loggers?.CreateLogger<MetricsExporter>();
        app.MapGet("/metrics", (HttpContext context) =>
        {
            string text;
            try
            {
                text = PrometheusText.Write(collect());
            }
            catch (Exception e)
            {
                // A scrape that fails says so (Prometheus records the failure) and the next one tries again.
                if (logger is not null) LogScrapeFailed(logger, e);
                return Results.Text("collecting metrics failed: " + e.Message, "text/plain", statusCode: StatusCodes.Status500InternalServerError);
            }
            return Results.Text(text, PrometheusText.ContentType);
        });
        await app.StartAsync(ct).ConfigureAwait(false);
        int bound = EmbeddedWebHost.BoundPort(app, port);
        if (logger is not null) LogExported(logger, host, bound);
        return new MetricsExporter(app, host, bound);
    }

    public ValueTask DisposeAsync() => EmbeddedWebHost.StopAsync(_app);

    [LoggerMessage(Level = LogLevel.Error, Message = "Collecting metrics for a scrape failed")]
    private static partial void LogScrapeFailed(ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Information, Message = "Metrics are exported at http://{Host}:{Port}/metrics")]
    private static partial void LogExported(ILogger logger, string host, int port);
}
