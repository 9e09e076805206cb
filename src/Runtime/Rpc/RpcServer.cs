using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Grpc.Core;

namespace RaySharp.Core.Rpc;

/// <summary>
/// A Kestrel HTTP/2 server hosting RaySharp's gRPC services: on a TCP port (other nodes) and, when given, a Unix
/// domain socket (processes of the same node). Each process that serves RPCs — GCS, raylet, worker, driver — runs
/// exactly one; the services it hosts are singletons passed in.
/// </summary>
internal sealed class RpcServer : IRpcHost
{
    private readonly WebApplication _app;

    private RpcServer(WebApplication app, string host, int port, string? socketPath, ClusterAuthenticator authenticator)
    {
        _app = app;
        Authenticator = authenticator;
        Host = host;
        Port = port;
        SocketPath = socketPath;
    }

    public string Host { get; }
    public int Port { get; }
    public string? SocketPath { get; }

    /// <summary>Checks the cluster token of every call; counts the refused ones.</summary>
    public ClusterAuthenticator Authenticator { get; }

    string? IRpcHost.Socket => SocketPath;

    /// <summary>The TCP endpoint, <c>host:port</c>.</summary>
    public string Endpoint => $"{Host}:{Port}";

    /// <param name="host">The address to listen on (and to advertise).</param>
    /// <param name="port">The TCP port, 0 for any free one.</param>
    /// <param name="socketPath">A Unix domain socket path for same-node clients, or null.</param>
    /// <param name="services">The service instances; each is registered as a singleton and mapped.</param>
    /// <param name="config">The process's configuration: the cluster token every call must carry, the services' message size limits.</param>
    /// <param name="loggers">The process's loggers: Kestrel's and ASP.NET Core's own messages (categories
    /// <c>Microsoft.AspNetCore.*</c>, at Warning unless RAY_LOG_LEVEL says otherwise) go there. Null: they are dropped.</param>
    /// <param name="ct">Cancels the start.</param>
    public static async Task<RpcServer> StartAsync(string host, int port, string? socketPath, IReadOnlyList<IRpcService> services,
        RayConfig config, ILoggerFactory? loggers = null, CancellationToken ct = default)
    {
        var token = config.AuthToken ?? throw new InvalidOperationException(
            $"An RPC server needs the cluster token ({ClusterToken.Variable}); this process was started without one.");
        var authenticator = new ClusterAuthenticator(token, loggers?.CreateLogger(typeof(ClusterAuthenticator).FullName!));
        var builder = EmbeddedWebHost.CreateBuilder("RaySharp", loggers);
        builder.WebHost.ConfigureKestrel(options =>
        {
            options.Limits.Http2.MaxStreamsPerConnection = 100_000;
            options.Limits.Http2.InitialConnectionWindowSize = 16 * 1024 * 1024;
            options.Limits.Http2.InitialStreamWindowSize = 8 * 1024 * 1024;
            options.Limits.MaxRequestBodySize = null;
            options.Listen(IPAddress.Parse(host), port, l =>
            {
                l.Protocols = HttpProtocols.Http2;
                // Traffic that may leave the machine: mutual TLS when the cluster uses it (the Unix socket stays local).
                if (config.Tls is { } tls)
                    l.UseHttps(new HttpsConnectionAdapterOptions
                    {
                        ServerCertificate = tls.Certificate,
                        ClientCertificateMode = ClientCertificateMode.RequireCertificate,
                        ClientCertificateValidation = (certificate, _, errors) => tls.Accepts(certificate, errors, checkName: false),
                        SslProtocols = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13,
                    });
            });
            if (socketPath is not null)
            {
                if (File.Exists(socketPath)) File.Delete(socketPath);
                options.ListenUnixSocket(socketPath, l => l.Protocols = HttpProtocols.Http2);
            }
        });
        // A message over its service's limit fails with ResourceExhausted.
        builder.Services.AddSingleton(RpcMetricsInterceptor.Instance);
        var grpc = builder.Services.AddGrpc(o =>
        {
            // Calls refused for their token never get here: they are counted by the authenticator, not as calls of their method.
            o.Interceptors.Add<RpcMetricsInterceptor>();
            o.MaxReceiveMessageSize = Math.Min(config.GcsGrpcMaxReceiveMessageSize, config.RayletGrpcMaxReceiveMessageSize);
            o.MaxSendMessageSize = null;
            o.EnableDetailedErrors = true;
        });
        foreach (var service in services)
        {
            builder.Services.AddSingleton(service.GetType(), service);
            service.Configure(grpc, config);
        }
        var app = builder.Build();
        // One check for every call of every service, before its message is read.
        app.UseClusterAuth(authenticator);
        foreach (var service in services) service.Map(app);
        await app.StartAsync(ct).ConfigureAwait(false);
        if (socketPath is not null) SessionFiles.RestrictSocket(socketPath);
        return new RpcServer(app, host, EmbeddedWebHost.BoundPort(app, port), socketPath, authenticator);
    }

    public async ValueTask DisposeAsync()
    {
        // Streams still open (long polls, subscriptions) are cut: their clients see the server go away.
        await EmbeddedWebHost.StopAsync(_app).ConfigureAwait(false);
        if (SocketPath is not null) try { File.Delete(SocketPath); } catch (IOException) { }
        // This process's cached channels to the stopped server go too: a later server on the same (ephemeral) port would
        // otherwise be called through a channel still backing off from this one's refused connections.
        RpcChannels.Forget(Endpoint);
        if (SocketPath is not null) RpcChannels.Forget("unix:" + SocketPath);
    }
}

/// <summary>Where a process serves its RPC services: a <see cref="RpcServer"/> (TCP and a Unix socket), or an
/// <see cref="InProcessServer"/> in local mode.</summary>
internal interface IRpcHost : IAsyncDisposable
{
    /// <summary>The endpoint other processes (or, in process, other components) call.</summary>
    string Endpoint { get; }

    /// <summary>The Unix domain socket of same-node callers, if any.</summary>
    string? Socket { get; }
}

/// <summary>A gRPC service a <see cref="RpcServer"/> hosts.</summary>
internal interface IRpcService
{
    /// <summary>Maps the service's endpoints (<c>app.MapGrpcService&lt;T&gt;()</c>).</summary>
    void Map(IEndpointRouteBuilder app);

    /// <summary>Binds the service's handlers to <paramref name="binder"/> (its static <c>BindService</c> with this instance),
    /// as the in-process transport serves them.</summary>
    void Bind(ServiceBinderBase binder);

    /// <summary>Sets the service's own gRPC options (its message size limit) on the server's builder.</summary>
    void Configure(Grpc.AspNetCore.Server.IGrpcServerBuilder grpc, RayConfig config)
    {
    }
}

/// <summary>What RaySharp's Kestrel hosts (the RPC server, the metrics endpoint) share: a slim builder inside a process
/// the host does not own, its bound port, and a bounded stop.</summary>
internal static class EmbeddedWebHost
{
    /// <summary>A slim builder that logs through <paramref name="loggers"/> (null: nowhere) and leaves signals alone.</summary>
    public static WebApplicationBuilder CreateBuilder(string applicationName, ILoggerFactory? loggers)
    {
        // No file watching: every worker has such a host, and a watcher per process soon meets the per-user limit on
        // inotify instances (128 by default), after which workers fail to start.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"], ApplicationName = applicationName });
        // Nor the program's own configuration: a user's appsettings.json or ASPNETCORE_URLS configure the user's web
        // app, not RaySharp's RPC server inside the same process.
        builder.Configuration.Sources.Clear();
        builder.Logging.ClearProviders();
        // The host is part of a process it does not own (a user's driver, a worker, a node): SIGTERM and Ctrl+C keep
        // their usual meaning there instead of quietly stopping this host and leaving the process running.
        builder.Services.AddSingleton<IHostLifetime, NoSignalHandlingLifetime>();
        // The host logs through the process's factory (its files, console and levels); the process owns and disposes it.
        if (loggers is not null) builder.Services.AddSingleton<ILoggerFactory>(new PeerGoneLoggerFactory(loggers));
        return builder;
    }

    /// <summary>The TCP port the started host listens on (<paramref name="requested"/> unless it was 0).</summary>
    public static int BoundPort(WebApplication app, int requested)
    {
        int bound = requested;
        var addresses = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>();
        foreach (var a in addresses?.Addresses ?? [])
        {
            if (a.StartsWith("http://unix:", StringComparison.Ordinal)) continue;
            if (Uri.TryCreate(a, UriKind.Absolute, out var uri)) bound = uri.Port;
        }
        return bound;
    }

    /// <summary>Stops the host, cutting what is still open after two seconds, and disposes it.</summary>
    public static async ValueTask StopAsync(WebApplication app)
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await app.StopAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        await app.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>A host lifetime that neither handles signals nor waits for them: the host starts and stops when told.</summary>
internal sealed class NoSignalHandlingLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>
/// The process's loggers as an RPC server logs through them, except that a call whose caller went away mid-request (a
/// killed worker or driver: the connection aborted under it) is logged at Debug, not as gRPC's "Error when executing
/// service method". Such a call never reached RaySharp's handler, and the death is reported where it matters (the
/// worker's or node's failure). Every other error of the server keeps its level.
/// </summary>
internal sealed class PeerGoneLoggerFactory(ILoggerFactory inner) : ILoggerFactory
{
    /// <summary>The category under which gRPC logs a failed call.</summary>
    internal const string CallHandlerCategory = "Grpc.AspNetCore.Server.ServerCallHandler";

    public ILogger CreateLogger(string categoryName)
    {
        var logger = inner.CreateLogger(categoryName);
        return categoryName == CallHandlerCategory ? new Filter(logger) : logger;
    }

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    /// <summary>The process owns the factory and disposes it.</summary>
    public void Dispose()
    {
    }

    /// <summary>Whether <paramref name="e"/> says the call's connection went away rather than that the call failed.</summary>
    internal static bool IsPeerGone(Exception? e)
    {
        for (int depth = 0; e is not null && depth < 4; depth++, e = e.InnerException)
            if (e is Microsoft.AspNetCore.Connections.ConnectionAbortedException or Microsoft.AspNetCore.Connections.ConnectionResetException)
                return true;
        return false;
    }

    private sealed class Filter(ILogger logger) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => logger.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => logger.IsEnabled(logLevel) || logger.IsEnabled(LogLevel.Debug);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel > LogLevel.Debug && IsPeerGone(exception)) logLevel = LogLevel.Debug;
            if (logger.IsEnabled(logLevel)) logger.Log(logLevel, eventId, state, exception, formatter);
        }
    }
}
