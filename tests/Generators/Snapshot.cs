using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.CodeAnalysis;

namespace RaySharp.Generators.Tests;

/// <summary>
/// Compares generated files with checked-in snapshots, <c>Snapshots/&lt;Test&gt;.&lt;file&gt;.verified.cs</c>. On a mismatch
/// it writes <c>*.received.cs</c> beside the snapshot and fails; with <c>RAYSHARP_ACCEPT_SNAPSHOTS=1</c> it overwrites the
/// snapshot instead.
/// </summary>
internal static class Snapshot
{
    private static bool Accept => Environment.GetEnvironmentVariable("RAYSHARP_ACCEPT_SNAPSHOTS") == "1";

    public static void Verify(string testName, GeneratorDriverRunResult result, [CallerFilePath] string callerPath = "")
    {
        string directory = Path.Combine(TestProjectDirectory(callerPath), "Snapshots");
        Directory.CreateDirectory(directory);
        var failures = new List<string>();
        var produced = new HashSet<string>(StringComparer.Ordinal);

        foreach (var source in result.Results.SelectMany(r => r.GeneratedSources).OrderBy(s => s.HintName, StringComparer.Ordinal))
        {
            string name = $"{testName}.{Path.GetFileNameWithoutExtension(source.HintName)}";
            string verified = Path.Combine(directory, name + ".verified.cs");
            string received = Path.Combine(directory, name + ".received.cs");
            produced.Add(verified);
            string actual = Normalize(source.SourceText.ToString());

            if (Accept)
            {
                File.WriteAllText(verified, actual, new UTF8Encoding(false));
                File.Delete(received);
                continue;
            }
            string? expected = File.Exists(verified) ? Normalize(File.ReadAllText(verified)) : null;
            if (expected == actual)
            {
                File.Delete(received);
                continue;
            }
            File.WriteAllText(received, actual, new UTF8Encoding(false));
            failures.Add(expected is null
                ? $"{name}: no snapshot yet; review {received}"
                : $"{name}: differs from the snapshot ({FirstDifference(expected, actual)});\n    diff {verified} {received}");
        }

        foreach (var stale in Directory.GetFiles(directory, testName + ".*.verified.cs"))
        {
            if (produced.Contains(stale)) continue;
            if (Accept) File.Delete(stale);
            else failures.Add($"{Path.GetFileName(stale)}: snapshot of a file that is no longer generated");
        }

        Assert.True(failures.Count == 0,
            string.Join("\n", failures) + "\nIf the change is intended, rerun with RAYSHARP_ACCEPT_SNAPSHOTS=1 to accept it.");
    }

    /// <summary>The test project's source directory: where this file was compiled from, or, when the build mapped
    /// source paths (deterministic CI builds), the nearest directory above the test binaries holding the project.</summary>
    private static string TestProjectDirectory(string callerPath)
    {
        string? fromCaller = Path.GetDirectoryName(callerPath);
        if (fromCaller is not null && File.Exists(Path.Combine(fromCaller, "RaySharp.Generators.Tests.csproj"))) return fromCaller;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "RaySharp.Generators.Tests.csproj"))) return dir.FullName;
        }
        throw new InvalidOperationException($"Cannot find the test project directory from '{callerPath}' or '{AppContext.BaseDirectory}'.");
    }

    private static string Normalize(string text) => text.Replace("\r\n", "\n");

    private static string FirstDifference(string expected, string actual)
    {
        var e = expected.Split('\n');
        var a = actual.Split('\n');
        for (int i = 0; i < Math.Max(e.Length, a.Length); i++)
        {
            string el = i < e.Length ? e[i] : "<end>";
            string al = i < a.Length ? a[i] : "<end>";
            if (el != al) return $"line {i + 1}: expected `{el.Trim()}`, got `{al.Trim()}`";
        }
        return "same lines";
    }
}
