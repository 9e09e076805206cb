using System.Diagnostics;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace RaySharp.Packaging.Tests;

/// <summary>
/// RaySharp as a user installs it: the packages from a folder feed, the app and tests `dotnet new raysharp` makes
/// (outside the repository, by PackageReference), the app published self-contained, composite ReadyToRun and as a single
/// file, and the raysharp tool starting a head (with its dashboard) and a second node that the app then runs its tasks and actor on.
/// </summary>
public sealed partial class PackagingTests(PackagesFixture packages, ITestOutputHelper output) : IClassFixture<PackagesFixture>
{
    private static readonly TimeSpan RunLimit = TimeSpan.FromMinutes(3);

    /// <summary>What the template's Program.cs prints when its tasks and its actor ran.</summary>
    private static void AssertTheAppRan(CommandResult run)
    {
        run.Succeeded();
        Assert.Contains("squares: 0, 1, 4, 9, 16, 25, 36, 49", run.Output, StringComparison.Ordinal);
        Assert.Contains("sum of two: 25", run.Output, StringComparison.Ordinal);
        Assert.Contains("counter: 12", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void The_RaySharp_package_carries_the_runtime_the_generator_and_the_analyzers()
    {
        using var zip = ZipFile.OpenRead(Path.Combine(packages.Feed, $"RaySharp.{packages.Version}.nupkg"));
        var entries = zip.Entries.Select(e => e.FullName).ToHashSet();
        Assert.Contains("lib/net10.0/RaySharp.Runtime.dll", entries);
        Assert.Contains("analyzers/dotnet/cs/RaySharp.Generators.dll", entries);
        Assert.Contains("analyzers/dotnet/cs/RaySharp.Analyzers.dll", entries);
        Assert.DoesNotContain(entries, e => e.StartsWith("lib/", StringComparison.Ordinal) && e.Contains("Generators", StringComparison.Ordinal));
        Assert.Contains("README.md", entries);
        Assert.Contains("LICENSE", entries);
        // The runtime is precompiled (ReadyToRun): a worker is a fresh process, and runs RaySharp's start-up without the JIT.
        Assert.True(IsReadyToRun(zip.GetEntry("lib/net10.0/RaySharp.Runtime.dll")!), "the packaged runtime is IL only, not ReadyToRun");
        string nuspec = new StreamReader(zip.GetEntry("RaySharp.nuspec")!.Open()).ReadToEnd();
        Assert.Contains("<license type=\"expression\">Apache-2.0</license>", nuspec, StringComparison.Ordinal);
        Assert.Contains("<frameworkReference name=\"Microsoft.AspNetCore.App\" />", nuspec, StringComparison.Ordinal);
        foreach (var file in Directory.EnumerateFiles(packages.Feed, "*.nupkg").Order())
            output.WriteLine($"{Path.GetFileName(file)}: {new FileInfo(file).Length / 1024} KiB");
    }

    /// <summary>Whether the assembly carries precompiled code: a ReadyToRun image has a managed native header.</summary>
    private static bool IsReadyToRun(ZipArchiveEntry dll)
    {
        using var copy = new MemoryStream();
        using (var stream = dll.Open()) stream.CopyTo(copy);
        copy.Position = 0;
        using var pe = new System.Reflection.PortableExecutable.PEReader(copy);
        return pe.PEHeaders.CorHeader is { ManagedNativeHeaderDirectory.Size: > 0 };
    }

    [Fact]
    public void The_template_app_runs_tasks_and_an_actor()
    {
        AssertTheAppRan(Command.Run(packages.DemoApp, [], packages.Demo, packages.Environment, RunLimit));
    }

    [Fact]
    public void The_template_tests_pass_with_a_two_node_TestCluster_among_them()
    {
        var test = packages.Dotnet(["test", "Demo.slnx", "--no-build", "-nologo"], packages.Demo);
        test.Succeeded();
        // The template's three tests and the two-node cluster test added to them.
        Assert.Matches(@"Passed!\s+-\s+Failed:\s+0,\s+Passed:\s+4,", test.Output);
    }

    [Fact]
    public void A_self_contained_publish_runs_tasks_and_an_actor()
    {
        string dir = Publish("self-contained", []);
        Assert.True(File.Exists(Path.Combine(dir, "libcoreclr.so")) || File.Exists(Path.Combine(dir, "coreclr.dll")), "the runtime is not in the publish output");
        output.WriteLine($"self-contained: {DirectorySize(dir) / (1024 * 1024)} MiB in {Directory.GetFiles(dir).Length} files");
        AssertTheAppRan(Command.Run(Path.Combine(dir, "Demo"), [], dir, packages.Environment, RunLimit));
    }

    [Fact]
    public void A_single_file_publish_runs_tasks_and_an_actor()
    {
        string dir = Publish("single-file", ["-p:PublishSingleFile=true"]);
        // Every assembly, RaySharp's included, is inside the one executable.
        Assert.Empty(Directory.GetFiles(dir, "*.dll"));
        output.WriteLine($"single-file: Demo is {new FileInfo(Path.Combine(dir, "Demo")).Length / (1024 * 1024)} MiB");
        AssertTheAppRan(Command.Run(Path.Combine(dir, "Demo"), [], dir, packages.Environment, RunLimit));
    }

    [Fact]
    public void A_composite_ReadyToRun_publish_runs_tasks_and_an_actor()
    {
        // docs/packages.md's fastest start: the framework, the app and every package precompiled into one image, which the
        // workers (the same program) use too.
        string dir = Publish("ready-to-run", ["-p:PublishReadyToRun=true", "-p:PublishReadyToRunComposite=true"]);
        string composite = Path.Combine(dir, "Demo.r2r.dll");
        Assert.True(File.Exists(composite), $"no composite image {composite} in the publish output");
        output.WriteLine($"ready-to-run: {DirectorySize(dir) / (1024 * 1024)} MiB, the composite image {new FileInfo(composite).Length / (1024 * 1024)} MiB");
        AssertTheAppRan(Command.Run(Path.Combine(dir, "Demo"), [], dir, packages.Environment, RunLimit));
    }

    [Fact]
    public async Task The_tool_starts_a_head_with_its_dashboard_and_a_node_that_run_the_apps_tasks()
    {
        string tools = Path.Combine(packages.Work, "tools");
        packages.Dotnet(["tool", "install", "RaySharp.Cli", "--version", packages.Version, "--tool-path", tools, "--configfile", packages.NuGetConfig],
            packages.Work).Succeeded();
        string raysharp = Path.Combine(tools, "raysharp");
        string records = Path.Combine(packages.Work, "t", "raysharp", "nodes");
        var started = new List<int>();
        try
        {
            var start = Command.Run(raysharp, ["start", "--head", "--port", "0", "--dashboard-port", "0", "--num-cpus", "2"], packages.Work,
                packages.Environment, RunLimit);
            started.AddRange(RecordedPids(records));
            start.Succeeded();
            string dashboard = DashboardUrl().Match(start.Output).Groups[1].Value;
            string gcs = GcsAddress().Match(start.Output).Groups[1].Value;
            string node = HeadNode().Match(start.Output).Groups[1].Value;
            Assert.True(dashboard.Length > 0 && gcs.Length > 0 && node.Length > 0, start.Output);
            Assert.NotEmpty(started);
            var join = Command.Run(raysharp, ["start", "--address", gcs, "--num-cpus", "1"], packages.Work, packages.Environment, RunLimit);
            started.AddRange(RecordedPids(records).Except(started));
            string second = WorkerNode().Match(join.Succeeded().Output).Groups[1].Value;
            Assert.True(second.Length > 0, join.Output);

            // The dashboard, a process of its own started by the tool's head node, serves the cluster's state: both nodes.
            using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) })
            {
                string cluster = await http.GetStringAsync(dashboard + "/api/cluster");
                Assert.Contains(node, cluster, StringComparison.Ordinal);
                Assert.Contains(second, cluster, StringComparison.Ordinal);
            }

            // The app joins the tool's head: its workers are started by the tool's node, as the app's own program.
            var env = new Dictionary<string, string?>(packages.Environment) { ["RAY_ADDRESS"] = gcs };
            AssertTheAppRan(Command.Run(packages.DemoApp, [], packages.Demo, env, RunLimit));

            Command.Run(raysharp, ["stop"], packages.Work, packages.Environment, RunLimit).Succeeded();
            Assert.DoesNotContain(started, IsRunning);
        }
        finally
        {
            foreach (int pid in started.Union(RecordedPids(records))) KillTree(pid);
        }
    }

    private string Publish(string name, string[] extra)
    {
        string dir = Path.Combine(packages.Work, name);
        packages.Dotnet(["publish", Path.Combine(packages.Demo, "src", "Demo", "Demo.csproj"), "-c", "Release", "-r", RuntimeInformation.RuntimeIdentifier,
            "--self-contained", "-o", dir, "-nologo", .. extra], packages.Demo).Succeeded();
        return dir;
    }

    private static long DirectorySize(string dir) => new DirectoryInfo(dir).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);

    /// <summary>The pids of the processes <c>raysharp start</c> recorded (its node records, one JSON file each).</summary>
    private static List<int> RecordedPids(string records)
    {
        if (!Directory.Exists(records)) return [];
        return Directory.EnumerateFiles(records, "*.json")
            .Select(f => int.TryParse(Path.GetFileNameWithoutExtension(f), out int pid) ? pid : 0).Where(p => p > 0).ToList();
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static void KillTree(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            Command.Kill(p);
        }
        catch (ArgumentException)
        {
            // Gone already.
        }
    }

    [GeneratedRegex(@"The dashboard serves at (http://\S+?):? submit")]
    private static partial Regex DashboardUrl();

    [GeneratedRegex(@"Started a head node (\w+) ")]
    private static partial Regex HeadNode();

    [GeneratedRegex(@"Started a worker node (\w+) ")]
    private static partial Regex WorkerNode();

    [GeneratedRegex(@"RAY_ADDRESS=(\S+?);")]
    private static partial Regex GcsAddress();
}
