using Microsoft.Extensions.Logging;

namespace RaySharp.Core;

/// <summary>Warnings a user must see (infeasible work, unreachable GCS) go to stderr until logging is configurable.</summary>
/// <param name="prefix">Names the process in each line, e.g. <c>[RaySharp]</c> or <c>[RaySharp node]</c>.</param>
internal sealed class StderrLogger(string prefix = "[RaySharp]") : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel)) Console.Error.WriteLine($"{prefix} {logLevel}: {formatter(state, exception)}");
    }
}
