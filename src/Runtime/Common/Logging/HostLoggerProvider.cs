using Microsoft.Extensions.Logging;

namespace RaySharp.Core.Logging;

/// <summary>
/// Hands the runtime's log lines to a host's <see cref="ILoggerFactory"/> (RaySharp.Hosting), in place of the
/// runtime's own console logger, so that they reach whatever the host logs to, under the same categories. The host's
/// filters decide what is written; the host owns its factory, so disposing this provider leaves it alone.
/// </summary>
internal sealed class HostLoggerProvider(ILoggerFactory host) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => host.CreateLogger(categoryName);

    public void Dispose()
    {
    }
}
