using System.Diagnostics;
using Xunit;

namespace RaySharp.Integration;

/// <summary>Runs the `raysharp` command as a user does, in a process of its own.</summary>
internal static class RaysharpCommand
{
    /// <summary>Runs <c>raysharp ARGS</c> with <c>TMPDIR=<paramref name="temp"/></c> (its own record of started nodes, so
    /// `raysharp stop` stops only the caller's) and no cluster settings inherited; fails the test after 120 s.</summary>
    public static (int ExitCode, string Output) Run(string temp, params string[] args)
    {
        var psi = new ProcessStartInfo(Core.Raylet.ProcessWorkerLauncher.DotnetHost())
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.Environment["TMPDIR"] = temp;
        psi.Environment.Remove("RAY_ADDRESS");
        psi.Environment.Remove(Core.ClusterToken.Variable);
        foreach (var a in (string[])["exec", Path.Combine(AppContext.BaseDirectory, "RaySharp.Cli.dll"), .. args]) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"raysharp {string.Join(' ', args)} did not finish within 120 s.");
        }
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
