using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace RaySharp.Core.Logging;

/// <summary>Where one process logs: its log files (none in local mode) and how problems with its settings are reported.</summary>
/// <param name="DefaultFile">The process's log file, e.g. <c>&lt;session&gt;/logs/raylet.log</c>; null for console only.</param>
/// <param name="Routes">Category prefixes logged to a file of their own (the GCS hosted by a raylet or driver process).</param>
/// <param name="SettingsProblemLevel">The level of the warnings about bad <c>RAY_*</c> values: workers, which inherit
/// their raylet's environment, report them only to their file (the raylet already warned).</param>
/// <param name="Host">A host's logger factory that takes the console's place (a driver started by RaySharp.Hosting).</param>
internal sealed record LogDestinations(string? DefaultFile, IReadOnlyList<KeyValuePair<string, string>>? Routes = null,
    LogLevel SettingsProblemLevel = LogLevel.Warning, ILoggerFactory? Host = null)
{
    public static LogDestinations ConsoleOnly { get; } = new((string?)null);
}

/// <summary>
/// Builds the one <see cref="ILoggerFactory"/> of a process (each composition root calls <see cref="CreateFactory"/>):
/// a file in the session's log directory at Information and the console (stderr) at Warning, unless
/// <c>RAY_LOG_LEVEL</c> (see <see cref="LogLevelSettings"/>) says otherwise. ASP.NET Core's and gRPC's own categories
/// log at Warning unless a category override names them. With a host's factory (<see cref="LogDestinations.Host"/>)
/// the lines that would go to the console go to the host instead, at every level unless <c>RAY_LOG_LEVEL</c> sets one:
/// the host's own filters (its <c>Logging:LogLevel</c> configuration) decide.
/// </summary>
internal static partial class RayLogging
{
    public const LogLevel DefaultFileLevel = LogLevel.Information;
    public const LogLevel DefaultConsoleLevel = LogLevel.Warning;

    /// <summary>The category of the messages about the process's own settings.</summary>
    public const string SettingsCategory = "RaySharp.Core.Config";

    /// <summary>Categories of the frameworks RaySharp runs on, kept at Warning by default.</summary>
    private static readonly string[] s_frameworkCategories = ["Microsoft", "Grpc", "System.Net.Http"];

    public static ILoggerFactory CreateFactory(LogDestinations destinations, LogLevelSettings? levels = null)
    {
        levels ??= LogLevelSettings.FromEnvironment();
        var factory = LoggerFactory.Create(builder =>
        {
            builder.SetMinimumLevel(LogLevel.Trace);
            if (destinations.Host is { } host)
            {
                builder.AddProvider(new HostLoggerProvider(host));
                AddRules<HostLoggerProvider>(builder, levels.Default ?? LogLevel.Trace, levels);
            }
            else
            {
                builder.AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.IncludeScopes = false;
                    o.ColorBehavior = LoggerColorBehavior.Disabled;
                });
                // Standard output belongs to the program (and a node's ready line): every log line goes to stderr.
                builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
                AddRules<ConsoleLoggerProvider>(builder, levels.Default ?? DefaultConsoleLevel, levels);
            }
            if (destinations.DefaultFile is { } file)
            {
                // Created by the container (not AddProvider(instance)) so that disposing the factory disposes, and so
                // flushes, the files.
                builder.Services.AddSingleton<ILoggerProvider>(_ => new FileLoggerProvider(file, destinations.Routes));
                AddRules<FileLoggerProvider>(builder, levels.Default ?? DefaultFileLevel, levels);
            }
        });
        if (levels.Problems.Count > 0)
        {
            var logger = factory.CreateLogger(SettingsCategory);
            foreach (var problem in levels.Problems) LogSettingsProblem(logger, destinations.SettingsProblemLevel, problem);
        }
        return factory;
    }

    /// <summary>What each composition root does first: its logger factory, its configuration (bad <c>RAY_*</c> values
    /// reported, naming the variable), and one Information line with the effective settings.</summary>
    /// <param name="process">Names the process in the start line, e.g. <c>node</c>, <c>worker</c>, <c>driver</c>.</param>
    /// <param name="destinations">Where the process logs.</param>
    public static (RayConfig Config, ILoggerFactory Loggers) StartProcess(string process, LogDestinations destinations)
    {
        var levels = LogLevelSettings.FromEnvironment();
        var loggers = CreateFactory(destinations, levels);
        var config = RayConfig.FromEnvironment(Environment.GetEnvironmentVariable, out var problems);
        var log = loggers.CreateLogger(SettingsCategory);
        foreach (var problem in problems) LogSettingsProblem(log, destinations.SettingsProblemLevel, problem);
        LogProcessStarted(log, process, Environment.ProcessId,
            Environment.GetEnvironmentVariable(LogLevelSettings.Variable) is { Length: > 0 } l ? l
                : destinations.Host is null ? "default (files: info, console: warning)" : "default (files: info, host: the host's filters)",
            config.Describe());
        return (config, loggers);
    }

    [LoggerMessage(Message = "{Problem}")]
    private static partial void LogSettingsProblem(ILogger logger, LogLevel level, string problem);

    [LoggerMessage(Level = LogLevel.Information, Message = "RaySharp {Process} (pid {Pid}) started; log level {LogLevel}; config: {Config}")]
    private static partial void LogProcessStarted(ILogger logger, string process, int pid, string logLevel, string config);

    private static void AddRules<TProvider>(ILoggingBuilder builder, LogLevel level, LogLevelSettings levels) where TProvider : ILoggerProvider
    {
        builder.AddFilter<TProvider>(null, level);
        foreach (var category in s_frameworkCategories) builder.AddFilter<TProvider>(category, level > LogLevel.Warning ? level : LogLevel.Warning);
        // Later rules for the same category win: the user's overrides come last.
        foreach (var (category, categoryLevel) in levels.Categories) builder.AddFilter<TProvider>(category, categoryLevel);
    }
}
