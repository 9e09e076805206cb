using System.Collections;
using System.Text.RegularExpressions;

namespace RaySharp.Packaging.Tests;

/// <summary>
/// Packs RaySharp's packages once for the test class into a folder feed in a temporary directory outside the repository,
/// with a nuget.config that takes the RaySharp packages from that feed only (package source mapping) and everything else
/// from this machine's package cache and its configured sources. Every command the tests run gets an empty package cache
/// of its own (NUGET_PACKAGES), so no stale package of the same version is ever seen, and a TMPDIR of its own, so the
/// raysharp tool's node records and session directories are the test's alone.
/// </summary>
public sealed partial class PackagesFixture : IDisposable
{
    /// <summary>How long one build, publish or pack may take on a busy machine before it is killed.</summary>
    public static readonly TimeSpan BuildLimit = TimeSpan.FromMinutes(8);

    private readonly Lazy<string> _demo;

    public PackagesFixture()
    {
        RepoRoot = FindRepoRoot();
        Version = VersionPrefix().Match(File.ReadAllText(Path.Combine(RepoRoot, "Directory.Build.props"))).Groups[1].Value;
        // Short: the nodes' Unix sockets live under TMPDIR, and a socket path has at most 108 characters.
        Work = Path.Combine(Path.GetTempPath(), "rsp-" + Guid.NewGuid().ToString("N")[..8]);
        Feed = Path.Combine(Work, "feed");
        foreach (var dir in (string[])[Feed, Path.Combine(Work, "packages"), Path.Combine(Work, "t")]) Directory.CreateDirectory(dir);
        try
        {
            // The repository's own restore keeps the machine's package cache: only the commands run on the packages are isolated.
            Dotnet(["pack", Path.Combine(RepoRoot, "RaySharp.Packages.slnf"), "-c", "Release", "-o", Feed, "-nologo", "-p:UseSharedCompilation=false"],
                RepoRoot, isolated: false).Succeeded();
            WriteNuGetConfig();
        }
        catch
        {
            Dispose();
            throw;
        }
        _demo = new Lazy<string>(CreateDemo);
    }

    public string RepoRoot { get; }

    /// <summary>The packages' version (VersionPrefix in Directory.Build.props).</summary>
    public string Version { get; }

    /// <summary>The temporary directory all of it happens in.</summary>
    public string Work { get; }

    public string Feed { get; }

    public string NuGetConfig => Path.Combine(Work, "nuget.config");

    /// <summary>The environment every command on the packages runs with (null: removed).</summary>
    public IReadOnlyDictionary<string, string?> Environment => BuildEnvironment(isolated: true);

    /// <summary>The directory of the app made by <c>dotnet new raysharp -n Demo</c>, with the two-node cluster test added to its
    /// test project, restored from the feed and built (once, for whichever test needs it first).</summary>
    public string Demo => _demo.Value;

    /// <summary>The Demo console app's build output (its app host).</summary>
    public string DemoApp => Path.Combine(Demo, "src", "Demo", "bin", "Debug", "net10.0", "Demo");

    internal CommandResult Dotnet(IEnumerable<string> args, string workingDirectory, bool isolated = true, TimeSpan? limit = null) =>
        Command.Run("dotnet", args, workingDirectory, BuildEnvironment(isolated), limit ?? BuildLimit);

    private string CreateDemo()
    {
        string hive = Path.Combine(Work, "template-hive");
        string demo = Path.Combine(Work, "Demo");
        Dotnet(["new", "install", Path.Combine(Feed, $"RaySharp.Templates.{Version}.nupkg"), "--debug:custom-hive", hive], Work).Succeeded();
        Dotnet(["new", "raysharp", "-n", "Demo", "-o", demo, "--debug:custom-hive", hive], Work).Succeeded();
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Consumer", "TwoNodeClusterTests.cs"),
            Path.Combine(demo, "tests", "Demo.Tests", "TwoNodeClusterTests.cs"));
        Dotnet(["build", "Demo.slnx", "-nologo"], demo).Succeeded();
        return demo;
    }

    /// <summary>The machine's environment for a child: no variables of this test host's runner (MSBuild, VSTest), no
    /// RaySharp settings; no build servers left behind; with <paramref name="isolated"/>, the package cache and TMPDIR of
    /// this fixture.</summary>
    private Dictionary<string, string?> BuildEnvironment(bool isolated)
    {
        var env = new Dictionary<string, string?>();
        foreach (DictionaryEntry e in System.Environment.GetEnvironmentVariables())
        {
            string name = (string)e.Key;
            if (name.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || name.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase) ||
                name.StartsWith("RAY_", StringComparison.Ordinal) || name.StartsWith("RAYSHARP_", StringComparison.Ordinal) ||
                name is "DOTNET_STARTUP_HOOKS" or "TESTINGPLATFORM_TELEMETRY_OPTOUT")
                env[name] = null;
        }
        env["MSBUILDDISABLENODEREUSE"] = "1";
        env["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        env["UseSharedCompilation"] = "false";
        env["DOTNET_NOLOGO"] = "1";
        env["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        if (isolated)
        {
            env["NUGET_PACKAGES"] = Path.Combine(Work, "packages");
            env["TMPDIR"] = Path.Combine(Work, "t");
        }
        return env;
    }

    /// <summary>The feed for RaySharp's packages (and nothing else), then this machine's package cache as a source, then the
    /// machine's own sources for the rest.</summary>
    private void WriteNuGetConfig()
    {
        var sources = new List<(string Name, string Url)> { ("raysharp-feed", Feed) };
        string cache = System.Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        if (Directory.Exists(cache)) sources.Add(("machine-cache", cache));
        // The machine's sources as `dotnet nuget list source` names them: "  1.  NAME [Enabled]" then the URL.
        var lines = Dotnet(["nuget", "list", "source"], Work, isolated: false, limit: TimeSpan.FromMinutes(1)).Succeeded().Output.Split('\n');
        for (int i = 0; i + 1 < lines.Length; i++)
            if (SourceLine().Match(lines[i]) is { Success: true } m) sources.Add(("machine-" + m.Groups[1].Value, lines[i + 1].Trim()));
        var config = new System.Xml.Linq.XElement("configuration",
            new System.Xml.Linq.XElement("packageSources", new System.Xml.Linq.XElement("clear"),
                sources.Select(s => new System.Xml.Linq.XElement("add", new System.Xml.Linq.XAttribute("key", s.Name), new System.Xml.Linq.XAttribute("value", s.Url)))),
            new System.Xml.Linq.XElement("packageSourceMapping",
                sources.Select(s => new System.Xml.Linq.XElement("packageSource", new System.Xml.Linq.XAttribute("key", s.Name),
                    s.Name == "raysharp-feed"
                        ? [Pattern("RaySharp"), Pattern("RaySharp.*")]
                        : (System.Xml.Linq.XElement[])[Pattern("*")]))));
        config.Save(NuGetConfig);

        static System.Xml.Linq.XElement Pattern(string pattern) => new("package", new System.Xml.Linq.XAttribute("pattern", pattern));
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "RaySharp.Packages.slnf"))) return dir.FullName;
        throw new InvalidOperationException($"No RaySharp.Packages.slnf above {AppContext.BaseDirectory}: run the tests from the repository's build output.");
    }

    [GeneratedRegex(@"<VersionPrefix>([^<]+)</VersionPrefix>")]
    private static partial Regex VersionPrefix();

    [GeneratedRegex(@"^\s*\d+\.\s+(\S.*?)\s+\[Enabled\]\s*$")]
    private static partial Regex SourceLine();

    public void Dispose()
    {
        try
        {
            Directory.Delete(Work, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A file still held open; the directory is in the temp dir.
        }
    }
}
