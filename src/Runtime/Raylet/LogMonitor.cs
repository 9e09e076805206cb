using System.Buffers;
using System.Text;
using Microsoft.Extensions.Logging;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.Raylet;

/// <summary>
/// A node's log monitor (Ray's <c>log_monitor.py</c>): tails the standard output and error files of the node's worker
/// processes (<c>logs/worker-&lt;id&gt;.out</c> and <c>.err</c>) and publishes what they write to the drivers of their
/// job in batches — at most <c>log_monitor_batch_max_lines</c> lines and one batch per file per poll, reading at most
/// <c>log_monitor_max_bytes_per_read</c> bytes of a file per poll — each line prefixed as a Ray user knows it:
/// <c>(pid=123, ip=10.0.0.5, node=ab12cd34)</c>, or <c>(Counter pid=123, ...)</c> once the worker hosts an actor.
/// A file that shrinks (truncated, or replaced by a rotation) is read again from its start. It also answers
/// <c>raysharp logs</c>: which log files the node has, and their contents.
/// </summary>
internal sealed partial class LogMonitor : IDisposable
{
    /// <summary>Most ended workers whose files are still listed.</summary>
    internal const int MaxEndedWorkers = 1000;

    /// <summary>Most bytes one <see cref="Read"/> returns.</summary>
    internal const int MaxReadBytes = 1024 * 1024;

    private readonly string _logDir;
    private readonly Action<LogBatch> _publish;
    private readonly int _maxLines;
    private readonly int _maxBytes;
    private readonly Func<IEnumerable<string>> _ownFiles;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Lock _polling = new();
    private readonly Dictionary<WorkerId, WorkerLogs> _workers = [];
    private readonly Queue<WorkerId> _ended = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task? _loop;

    /// <param name="logDir">The session's log directory.</param>
    /// <param name="publish">Sends a batch to the job's drivers (through the GCS).</param>
    /// <param name="config">Batch and read limits, poll interval.</param>
    /// <param name="ownFiles">The names of the other files in <paramref name="logDir"/> this node lists (its raylet's log, the GCS's).</param>
    /// <param name="logger">The raylet's log.</param>
    /// <param name="poll">False: no background loop; the caller calls <see cref="Poll"/> (tests).</param>
    public LogMonitor(string logDir, Action<LogBatch> publish, RayConfig config, Func<IEnumerable<string>> ownFiles, ILogger logger, bool poll = true)
    {
        _logDir = logDir;
        _publish = publish;
        _maxLines = config.LogMonitorBatchMaxLines;
        _maxBytes = config.LogMonitorMaxBytesPerRead;
        _ownFiles = ownFiles;
        _logger = logger;
        if (poll) _loop = LoopAsync(config.LogMonitorPollInterval);
    }

    /// <summary>Starts tailing a worker's output files.</summary>
    public void Track(WorkerId worker, JobId job, int processId, string ip, NodeId node)
    {
        var logs = new WorkerLogs(worker, job, processId, $"ip={ip}, node={node.ToString()[..8]}",
            Path.Combine(_logDir, $"worker-{worker}.out"), Path.Combine(_logDir, $"worker-{worker}.err"));
        lock (_lock) _workers[worker] = logs;
    }

    /// <summary>The worker ended and its files are closed: what is left in them is published, then they are no longer
    /// tailed (they stay listed).</summary>
    public void Stop(WorkerId worker)
    {
        lock (_lock)
        {
            if (!_workers.TryGetValue(worker, out var logs) || logs.Ended) return;
            logs.Ended = true;
            _ended.Enqueue(worker);
            while (_ended.Count > MaxEndedWorkers) _workers.Remove(_ended.Dequeue());
        }
    }

    private async Task LoopAsync(TimeSpan interval)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                try
                {
                    Poll();
                }
                catch (Exception e)
                {
                    // One bad round (a file that vanished, a publish that threw) must not end the monitor.
                    LogPollFailed(_logger, e);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>One round: reads what each tailed file gained since the last round and publishes it.</summary>
    public void Poll()
    {
        lock (_polling)
        {
            List<WorkerLogs> workers;
            lock (_lock) workers = [.. _workers.Values.Where(w => !w.Drained)];
            foreach (var w in workers)
            {
                bool ended = w.Ended; // read before the files: all they hold now was written before it ended
                bool outDone = Tail(w, w.Out), errDone = Tail(w, w.Err);
                if (ended && outDone && errDone) w.Drained = true;
            }
        }
    }

    /// <summary>Reads and publishes one file's new lines; true when it was read to its end.</summary>
    private bool Tail(WorkerLogs worker, TailedFile file)
    {
        List<string> lines = [];
        bool atEnd;
        try
        {
            atEnd = file.ReadLines(_maxBytes, lines, worker.Ended);
        }
        catch (IOException e)
        {
            LogReadFailed(_logger, file.Path, e.Message);
            return true;
        }
        catch (UnauthorizedAccessException e)
        {
            LogReadFailed(_logger, file.Path, e.Message);
            return true;
        }
        List<string>? batch = null;
        foreach (var line in lines)
        {
            if (line.StartsWith(TaskExecutor.ActorNameMarker, StringComparison.Ordinal))
            {
                worker.ActorName = line[TaskExecutor.ActorNameMarker.Length..].Trim();
                continue;
            }
            batch ??= new List<string>(Math.Min(lines.Count, _maxLines));
            batch.Add(line);
            if (batch.Count == _maxLines)
            {
                _publish(new LogBatch(worker.Job, worker.Prefix, [.. batch], file.IsError));
                batch.Clear();
            }
        }
        if (batch is { Count: > 0 }) _publish(new LogBatch(worker.Job, worker.Prefix, [.. batch], file.IsError));
        return atEnd;
    }

    /// <summary>The node's log files: its workers' (with their process and actor), and its own.</summary>
    public LogFileInfo[] ListFiles()
    {
        var files = new List<LogFileInfo>();
        List<WorkerLogs> workers;
        lock (_lock) workers = [.. _workers.Values];
        foreach (var w in workers)
            foreach (var extension in (string[])[".out", ".err", ".log"])
                if (Info($"worker-{w.Worker}{extension}") is { } info)
                    files.Add(info with { WorkerId = w.Worker, ProcessId = w.ProcessId, ActorName = w.ActorName });
        foreach (var name in _ownFiles())
            if (Info(name) is { } info) files.Add(info);
        return [.. files.OrderBy(f => f.Name, StringComparer.Ordinal)];
    }

    private LogFileInfo? Info(string name)
    {
        var file = new FileInfo(Path.Combine(_logDir, name));
        return file.Exists ? new LogFileInfo(name, file.Length, new DateTimeOffset(file.LastWriteTimeUtc).ToUnixTimeMilliseconds()) : null;
    }

    /// <summary>Reads part of one of the files <see cref="ListFiles"/> names (any other name is not found: nothing
    /// outside the node's own log files can be read this way).</summary>
    public ReadLogReply Read(ReadLogRequest request)
    {
        if (string.IsNullOrEmpty(request.Name) || request.Name.Length > 255 || request.Name.IndexOfAny(['/', '\\', '\0']) >= 0 || request.Name.StartsWith('.'))
            throw WireValidation.Invalid("ReadLog: the file name must be a plain name from the node's log listing.");
        if (request.MaxBytes <= 0) throw WireValidation.Invalid($"ReadLog: MaxBytes is {request.MaxBytes}; it must be positive.");
        if (!ListFiles().Any(f => f.Name == request.Name)) return new ReadLogReply(false, [], 0, 0);
        using var stream = new FileStream(Path.Combine(_logDir, request.Name), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        long size = stream.Length;
        long offset = request.Offset < 0 ? Math.Max(0, size + request.Offset) : Math.Min(request.Offset, size);
        var data = new byte[(int)Math.Min(Math.Min(request.MaxBytes, MaxReadBytes), size - offset)];
        stream.Position = offset;
        // The file may shrink meanwhile (truncated): what was read is returned.
        int read = stream.ReadAtLeast(data, data.Length, throwOnEndOfStream: false);
        return new ReadLogReply(true, read == data.Length ? data : data[..read], offset, size);
    }

    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            _loop?.Wait(TimeSpan.FromSeconds(2));
        }
        catch (AggregateException)
        {
        }
        // Drivers get what the workers wrote last.
        try
        {
            lock (_lock) foreach (var w in _workers.Values) w.Ended = true;
            Poll();
        }
        catch (Exception e)
        {
            LogPollFailed(_logger, e);
        }
    }

    /// <summary>A worker's two output files and what its prefix says.</summary>
    private sealed class WorkerLogs(WorkerId worker, JobId job, int processId, string where, string stdout, string stderr)
    {
        private string? _actorName;
        private string _prefix = $"(pid={processId}, {where})";

        public WorkerId Worker { get; } = worker;
        public JobId Job { get; } = job;
        public int ProcessId { get; } = processId;
        public TailedFile Out { get; } = new(stdout, isError: false);
        public TailedFile Err { get; } = new(stderr, isError: true);
        public volatile bool Ended;
        public bool Drained;

        public string Prefix => _prefix;

        public string? ActorName
        {
            get => _actorName;
            set
            {
                _actorName = value;
                _prefix = string.IsNullOrEmpty(value) ? $"(pid={ProcessId}, {where})" : $"({value} pid={ProcessId}, {where})";
            }
        }
    }

    /// <summary>A file read from where the last read stopped; an incomplete last line waits for its end.</summary>
    internal sealed class TailedFile(string path, bool isError)
    {
        private long _offset;
        private byte[] _partial = [];

        public string Path { get; } = path;
        public bool IsError { get; } = isError;

        /// <summary>Adds the complete lines written since the last call to <paramref name="lines"/>, reading at most
        /// <paramref name="maxBytes"/>; <paramref name="final"/> (the writer is gone) also takes an unterminated last
        /// line. True when the file was read to its end.</summary>
        public bool ReadLines(int maxBytes, List<string> lines, bool final)
        {
            // A stat first: most polls find most files unchanged, and need not open them.
            var info = new FileInfo(Path);
            if (!info.Exists) return true;
            if (info.Length == _offset && !(final && _partial.Length > 0)) return true;
            using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            long size = stream.Length;
            if (size < _offset)
            {
                // Truncated, or replaced by a new file (rotation): start over, and drop the old file's unfinished line.
                _offset = 0;
                _partial = [];
            }
            int count = (int)Math.Min(size - _offset, maxBytes);
            if (count > 0)
            {
                var buffer = ArrayPool<byte>.Shared.Rent(_partial.Length + count);
                try
                {
                    _partial.CopyTo(buffer, 0);
                    stream.Position = _offset;
                    int read = stream.ReadAtLeast(buffer.AsSpan(_partial.Length, count), count, throwOnEndOfStream: false);
                    _offset += read;
                    int length = _partial.Length + read, start = 0;
                    for (int i = 0; i < length; i++)
                    {
                        if (buffer[i] != (byte)'\n') continue;
                        lines.Add(Decode(buffer, start, i - start));
                        start = i + 1;
                    }
                    // A line longer than a whole read is passed on in pieces rather than held without bound.
                    if (length - start >= maxBytes)
                    {
                        lines.Add(Decode(buffer, start, length - start));
                        start = length;
                    }
                    _partial = buffer.AsSpan(start, length - start).ToArray();
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
            bool atEnd = _offset >= size;
            if (final && atEnd && _partial.Length > 0)
            {
                lines.Add(Decode(_partial, 0, _partial.Length));
                _partial = [];
            }
            return atEnd;
        }

        private static string Decode(byte[] buffer, int start, int length)
        {
            if (length > 0 && buffer[start + length - 1] == (byte)'\r') length--;
            return Encoding.UTF8.GetString(buffer, start, length);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The log monitor's round failed; it carries on at the next one")]
    private static partial void LogPollFailed(ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The log monitor could not read {Path}: {Reason}")]
    private static partial void LogReadFailed(ILogger logger, string path, string reason);
}
