using Microsoft.Extensions.Logging;

namespace RaySharp.Core.Logging;

/// <summary>
/// The levels <c>RAY_LOG_LEVEL</c> asks for: a comma-separated list of a default level and
/// <c>category=level</c> overrides, case-insensitive, e.g. <c>info</c>, <c>debug</c> or
/// <c>info,RaySharp.Core.Raylet=debug,Microsoft.AspNetCore=information</c>. A category is a prefix of the logger
/// categories it applies to (the longest match wins). Levels: trace, debug, info (information), warning (warn),
/// error, critical, none (off). Entries that do not parse are reported in <see cref="Problems"/> and ignored.
/// </summary>
internal sealed record LogLevelSettings(LogLevel? Default, IReadOnlyList<KeyValuePair<string, LogLevel>> Categories, IReadOnlyList<string> Problems)
{
    public const string Variable = "RAY_LOG_LEVEL";

    public static LogLevelSettings None { get; } = new(null, [], []);

    public static LogLevelSettings FromEnvironment() => Parse(Environment.GetEnvironmentVariable(Variable));

    public static LogLevelSettings Parse(string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) return None;
        LogLevel? global = null;
        var categories = new List<KeyValuePair<string, LogLevel>>();
        var problems = new List<string>();
        foreach (var raw in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = raw.IndexOf('=', StringComparison.Ordinal);
            string category = eq < 0 ? "" : raw[..eq].Trim();
            string levelText = eq < 0 ? raw : raw[(eq + 1)..].Trim();
            if (eq >= 0 && category.Length == 0)
            {
                problems.Add($"{Variable}: '{raw}' has no category before '='; expected CATEGORY=LEVEL. Ignoring it.");
                continue;
            }
            if (!TryParseLevel(levelText, out var level))
            {
                problems.Add($"{Variable}: '{levelText}' is not a log level (trace, debug, info, warning, error, critical, none); " +
                    $"ignoring '{raw}'.");
                continue;
            }
            if (eq < 0) global = level;
            else categories.Add(new(category, level));
        }
        return new(global, categories, problems);
    }

    public static bool TryParseLevel(string text, out LogLevel level)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "trace": level = LogLevel.Trace; return true;
            case "debug": level = LogLevel.Debug; return true;
            case "info" or "information": level = LogLevel.Information; return true;
            case "warn" or "warning": level = LogLevel.Warning; return true;
            case "error": level = LogLevel.Error; return true;
            case "critical" or "fatal": level = LogLevel.Critical; return true;
            case "none" or "off": level = LogLevel.None; return true;
            default: level = LogLevel.None; return false;
        }
    }
}
