using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;

namespace RaySharp.Core.Logging;

/// <summary>
/// Writes log lines to files: each category goes to the file of the longest matching route prefix, or to the
/// default file (so the GCS and the raylet hosted in one process keep separate logs). Writes are buffered and
/// flushed periodically, at once for errors, and on dispose. Logging never throws into its caller: a file that cannot
/// be written is reported once on stderr and then skipped.
/// </summary>
[ProviderAlias("File")]
internal sealed class FileLoggerProvider : ILoggerProvider
{
    private readonly LogFile _default;
    private readonly (string Prefix, LogFile File)[] _routes;
    private readonly Timer _flusher;

    /// <param name="defaultPath">The file of every category no route claims.</param>
    /// <param name="routes">Category prefixes with their own file.</param>
    /// <param name="flushPeriod">How often buffered lines are written out (default 1 s).</param>
    public FileLoggerProvider(string defaultPath, IEnumerable<KeyValuePair<string, string>>? routes = null, TimeSpan? flushPeriod = null)
    {
        var files = new Dictionary<string, LogFile>(StringComparer.Ordinal);
        LogFile Open(string path) => files.TryGetValue(Path.GetFullPath(path), out var f) ? f : files[Path.GetFullPath(path)] = new LogFile(path);
        _default = Open(defaultPath);
        _routes = [.. (routes ?? []).Select(r => (r.Key, Open(r.Value))).OrderByDescending(r => r.Key.Length)];
        Files = [.. files.Values];
        var period = flushPeriod ?? TimeSpan.FromSeconds(1);
        _flusher = new Timer(_ => Flush(), null, period, period);
    }

    internal IReadOnlyList<LogFile> Files { get; }

    public ILogger CreateLogger(string categoryName)
    {
        var file = _default;
        foreach (var (prefix, f) in _routes)
        {
            if (categoryName.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                file = f;
                break;
            }
        }
        return new FileLogger(categoryName, file);
    }

    public void Flush()
    {
        foreach (var f in Files) f.Flush();
    }

    public void Dispose()
    {
        _flusher.Dispose();
        foreach (var f in Files) f.Dispose();
    }

    private sealed class FileLogger(string category, LogFile file) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        // Levels are filtered by the factory's rules; a file that failed takes nothing more.
        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && !file.Failed;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            string message;
            try
            {
                message = formatter(state, exception);
            }
            catch (Exception e)
            {
                message = $"(the message could not be formatted: {e.Message})";
            }
            var line = new StringBuilder(64 + message.Length)
                .Append(DateTime.Now.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture)).Append(' ')
                .Append(Letter(logLevel)).Append(' ')
                .Append(Environment.ProcessId.ToString(CultureInfo.InvariantCulture)).Append(' ')
                .Append(category).Append(": ").Append(message);
            if (exception is not null) line.AppendLine().Append(exception);
            file.Write(line.ToString(), flush: logLevel >= LogLevel.Error);
        }

        private static char Letter(LogLevel level) => level switch
        {
            LogLevel.Trace => 'T',
            LogLevel.Debug => 'D',
            LogLevel.Information => 'I',
            LogLevel.Warning => 'W',
            LogLevel.Error => 'E',
            _ => 'C',
        };
    }
}

/// <summary>One log file, shared by the loggers routed to it; every member is thread-safe and never throws.</summary>
internal sealed class LogFile : IDisposable
{
    private readonly Lock _lock = new();
    private StreamWriter? _writer;
    private volatile bool _failed;

    public LogFile(string path)
    {
        Path = path;
        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
            var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            _writer = new StreamWriter(stream, new UTF8Encoding(false), 64 * 1024) { AutoFlush = false };
        }
        catch (Exception e)
        {
            Fail(e);
        }
    }

    public string Path { get; }

    public bool Failed => _failed;

    public void Write(string line, bool flush)
    {
        lock (_lock)
        {
            if (_writer is null) return;
            try
            {
                _writer.WriteLine(line);
                if (flush) _writer.Flush();
            }
            catch (Exception e)
            {
                Fail(e);
            }
        }
    }

    public void Flush()
    {
        lock (_lock)
        {
            if (_writer is null) return;
            try
            {
                _writer.Flush();
            }
            catch (Exception e)
            {
                Fail(e);
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_writer is null) return;
            try
            {
                _writer.Dispose();
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or UnauthorizedAccessException)
            {
                // Closing is best effort: what was written so far is on disk.
            }
            _writer = null;
        }
    }

    /// <summary>Stops writing this file after telling the user once why.</summary>
    private void Fail(Exception e)
    {
        if (_failed) return;
        _failed = true;
        try
        {
            _writer?.Dispose();
        }
        catch (Exception)
        {
            // Already broken.
        }
        _writer = null;
        try
        {
            Console.Error.WriteLine($"[RaySharp] cannot write the log file {Path}: {e.Message}; its log lines are dropped.");
        }
        catch (Exception)
        {
            // No console either.
        }
    }
}
