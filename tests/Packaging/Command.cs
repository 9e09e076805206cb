using System.Diagnostics;
using System.Text;

namespace RaySharp.Packaging.Tests;

/// <summary>What a finished command printed (standard output and error, interleaved as they came) and its exit code.</summary>
internal sealed record CommandResult(string Command, int ExitCode, string Output)
{
    /// <summary>Throws with the whole output unless the command exited with 0.</summary>
    public CommandResult Succeeded()
    {
        if (ExitCode != 0) throw new InvalidOperationException($"`{Command}` exited with {ExitCode}:\n{Output}");
        return this;
    }
}

/// <summary>Runs a program to its end within a time limit; past it the program and every process it started are killed.</summary>
internal static class Command
{
    public static CommandResult Run(string program, IEnumerable<string> args, string workingDirectory, IReadOnlyDictionary<string, string?> environment,
        TimeSpan limit)
    {
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (name, value) in environment)
        {
            if (value is null) psi.Environment.Remove(name);
            else psi.Environment[name] = value;
        }
        string line = program + " " + string.Join(' ', psi.ArgumentList);
        var output = new StringBuilder();
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        try
        {
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            if (!process.WaitForExit(limit))
                throw new TimeoutException($"`{line}` did not finish within {limit.TotalSeconds} s:\n{Text(output)}");
            process.WaitForExit(); // the output is read to its end
            return new CommandResult(line, process.ExitCode, Text(output));
        }
        finally
        {
            Kill(process);
        }
    }

    /// <summary>Ends a process and its descendants, if it is still running.</summary>
    public static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    private static string Text(StringBuilder output)
    {
        lock (output) return output.ToString();
    }
}
