using System.Diagnostics;
using System.Threading.Channels;

namespace RaySharp.MultiHost;

/// <summary>A process started in a host: its stdout as lines to wait for, its stderr kept for failure messages, its stdin
/// for commands (and as the lifeline of a node started with <c>--lifeline</c>). Disposing kills it and its children.</summary>
internal sealed class HostProcess : IDisposable
{
    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly System.Text.StringBuilder _errors = new();

    public HostProcess(Process process, string name)
    {
        _process = process;
        Name = name;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) _lines.Writer.TryComplete();
            else _lines.Writer.TryWrite(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null) lock (_errors) _errors.AppendLine(e.Data);
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Name { get; }

    public int Id => _process.Id;

    public string Errors
    {
        get { lock (_errors) return _errors.ToString(); }
    }

    /// <summary>The next line of output that starts with one of <paramref name="prefixes"/> (others are skipped).</summary>
    /// <exception cref="InvalidOperationException">The process ended, or said nothing of the kind, within <paramref name="timeout"/>.</exception>
    public string WaitForLine(TimeSpan timeout, params string[] prefixes)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                string line = _lines.Reader.ReadAsync(cts.Token).AsTask().GetAwaiter().GetResult();
                if (prefixes.Any(p => line.StartsWith(p, StringComparison.Ordinal))) return line;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
        {
            _process.WaitForExit(2000);
            string state = _process.HasExited ? $"exited with code {_process.ExitCode}" : $"said no line starting {string.Join(" or ", prefixes)} " +
                $"within {timeout.TotalSeconds} s";
            throw new InvalidOperationException($"{Name} {state}; stderr: {Errors}");
        }
    }

    /// <summary>Sends a command line and returns its answer, <c>OK COMMAND ...</c>; a <c>FAIL</c> answer throws.</summary>
    public string Ask(string command, TimeSpan timeout)
    {
        string verb = command.Split(' ')[0];
        _process.StandardInput.WriteLine(command);
        _process.StandardInput.Flush();
        string answer = WaitForLine(timeout, $"OK {verb}", $"FAIL {verb}");
        return answer.StartsWith("OK ", StringComparison.Ordinal) ? answer
            : throw new InvalidOperationException($"{Name}: {answer}; stderr: {Errors}");
    }

    /// <summary>Waits for the process to end by itself; its exit code.</summary>
    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout)) throw new InvalidOperationException($"{Name} did not exit within {timeout.TotalSeconds} s");
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
        _process.Dispose();
    }
}
