using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using RaySharp;
using RaySharp.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds RaySharp to a .NET Generic Host.</summary>
public static class RaySharpServiceCollectionExtensions
{
    /// <summary>The configuration section <see cref="AddRaySharp(IServiceCollection, Action{RayOptions}?)"/> reads.</summary>
    public const string ConfigurationSection = "RaySharp";

    /// <summary>
    /// Runs RaySharp for the lifetime of the host: <see cref="Ray.Init"/> when the host starts, before any hosted
    /// service starts, and <see cref="Ray.Shutdown"/> when it stops, after every hosted service has stopped. The
    /// <see cref="RayOptions"/> come from <see cref="IOptions{TOptions}"/>: the host configuration's <c>RaySharp</c>
    /// section (when the host has a configuration), then <paramref name="configure"/>. The runtime logs through the
    /// host's <c>ILoggerFactory</c> instead of its own console logger. Calling this again adds
    /// <paramref name="configure"/> and nothing else: RaySharp still starts once.
    /// </summary>
    public static IServiceCollection AddRaySharp(this IServiceCollection services, Action<RayOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<RayOptions>, BindRaySharpSection>());
        var builder = AddHostedRay(services);
        if (configure is not null) builder.Configure(configure);
        return services;
    }

    /// <summary>
    /// <see cref="AddRaySharp(IServiceCollection, Action{RayOptions}?)"/> with the <see cref="RayOptions"/> bound from
    /// <paramref name="configuration"/> (e.g. <c>builder.Configuration.GetSection("Ray")</c>) rather than from the
    /// host's <c>RaySharp</c> section.
    /// </summary>
    public static IServiceCollection AddRaySharp(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        AddHostedRay(services).Bind(configuration);
        return services;
    }

    private static OptionsBuilder<RayOptions> AddHostedRay(IServiceCollection services)
    {
        // One hosted service however many times RaySharp is added: Ray is one per process.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, RayHostedService>());
        return services.AddOptions<RayOptions>();
    }

    /// <summary>Binds the host configuration's <c>RaySharp</c> section, if the host has a configuration.</summary>
    private sealed class BindRaySharpSection(IServiceProvider services) : IConfigureOptions<RayOptions>
    {
        public void Configure(RayOptions options)
        {
            if (services.GetService<IConfiguration>() is { } configuration) configuration.GetSection(ConfigurationSection).Bind(options);
        }
    }
}
