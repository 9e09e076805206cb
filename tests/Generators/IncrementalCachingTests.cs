using System.Collections;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace RaySharp.Generators.Tests;

/// <summary>
/// An edit that does not change what is generated must leave every step of the pipeline Cached or Unchanged, so the
/// IDE does not regenerate on every keystroke (as Orleans' IncrementalCachingTests check).
/// </summary>
public sealed class IncrementalCachingTests
{
    private const string Tasks = """
        using System.Threading.Tasks;
        using RaySharp;

        namespace MyApp;

        public static partial class MathTasks
        {
            [RayRemote(NumCpus = 0.5, Resources = new[] { "accel=1" })]
            public static int Add(int a, int b) => a + b;

            [RayRemote(NumReturns = 2)]
            public static (int Sum, int Product) Both(int a, int b) => (a + b, a * b);
        }
        """;

    private const string Actor = """
        using System.Threading.Tasks;
        using RaySharp;

        namespace MyApp;

        [RayRemote(MaxRestarts = 2)]
        public partial class Counter
        {
            private int _count;

            public Counter(int start) => _count = start;

            public int Increment() => ++_count;

            public async Task<int> SlowRead()
            {
                await Task.Delay(10);
                return _count;
            }
        }
        """;

    private const string Helpers = """
        namespace MyApp;

        public static class Helpers
        {
            public static int Seven() => 7;
        }
        """;

    [Fact]
    public void AddingAnUnrelatedFileLeavesEveryStepCached()
    {
        var (driver, compilation) = FirstRun();
        var edited = compilation.AddSyntaxTrees(Parse("namespace Other; public sealed class Unrelated { public int X() => 1; }", "Unrelated.cs"));

        AssertEveryStepCachedOrUnchanged(driver.RunGenerators(edited).GetRunResult());
    }

    [Fact]
    public void ChangingAMethodBodyInAnotherFileLeavesEveryStepCached()
    {
        var (driver, compilation) = FirstRun();
        var edited = Replace(compilation, "Helpers.cs", Helpers.Replace("=> 7;", "=> 6 + 1;"));

        AssertEveryStepCachedOrUnchanged(driver.RunGenerators(edited).GetRunResult());
    }

    [Fact]
    public void ChangingTheBodyOfARemoteFunctionLeavesEveryStepCached()
    {
        var (driver, compilation) = FirstRun();
        var edited = Replace(compilation, "Tasks.cs", Tasks.Replace("=> a + b;", "=> b + a;"));
        edited = Replace(edited, "Actor.cs", Actor.Replace("=> ++_count;", "=> _count += 1;"));

        AssertEveryStepCachedOrUnchanged(driver.RunGenerators(edited).GetRunResult());
    }

    [Fact]
    public void ChangingASignatureRegeneratesOnlyThatFile()
    {
        var (driver, compilation) = FirstRun();
        var edited = Replace(compilation, "Tasks.cs", Tasks.Replace("int Add(int a, int b) => a + b;", "long Add(int a, int b) => a + b;"));

        var result = driver.RunGenerators(edited).GetRunResult().Results.Single();
        var files = result.TrackedSteps[RayRemoteGenerator.TrackingNames.Files].SelectMany(s => s.Outputs).ToList();
        Assert.Contains(files, o => o.Reason == IncrementalStepRunReason.Modified);
        Assert.Contains(files, o => o.Reason == IncrementalStepRunReason.Unchanged);
        Assert.Contains("ObjectRef<long> Add", result.GeneratedSources.Single(s => s.HintName == "MathTasks.RaySharp.g.cs").SourceText.ToString());
    }

    [Fact]
    public void PipelineHoldsNoSymbolsSyntaxOrCompilation()
    {
        var compilation = GeneratorHarness.CreateCompilation();
        compilation = compilation.AddSyntaxTrees(Parse(Tasks, "Tasks.cs"), Parse(Actor, "Actor.cs"));
        var result = GeneratorHarness.CreateDriver(trackSteps: true).RunGenerators(compilation).GetRunResult().Results.Single();

        foreach (var name in RayRemoteGenerator.TrackingNames.All)
        {
            foreach (var output in result.TrackedSteps[name].SelectMany(s => s.Outputs))
                AssertNoRoslynObjects(output.Value, name, 0);
        }
    }

    private static (GeneratorDriver Driver, Compilation Compilation) FirstRun()
    {
        var compilation = GeneratorHarness.CreateCompilation()
            .AddSyntaxTrees(Parse(Tasks, "Tasks.cs"), Parse(Actor, "Actor.cs"), Parse(Helpers, "Helpers.cs"));
        var driver = GeneratorHarness.CreateDriver(trackSteps: true).RunGenerators(compilation);
        var first = driver.GetRunResult();
        GeneratorHarness.AssertNoGeneratorFailures(first);
        Assert.Equal(2, first.GeneratedTrees.Length);
        foreach (var name in RayRemoteGenerator.TrackingNames.All)
            Assert.True(first.Results.Single().TrackedSteps.ContainsKey(name), $"step {name} was not tracked");
        return (driver, compilation);
    }

    private static void AssertEveryStepCachedOrUnchanged(GeneratorDriverRunResult run)
    {
        GeneratorHarness.AssertNoGeneratorFailures(run);
        var result = run.Results.Single();
        foreach (var name in RayRemoteGenerator.TrackingNames.All)
        {
            Assert.True(result.TrackedSteps.TryGetValue(name, out var steps), $"step {name} was not tracked");
            Assert.NotEmpty(steps.SelectMany(s => s.Outputs));
            foreach (var (_, reason) in steps.SelectMany(s => s.Outputs))
            {
                Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged,
                    $"step {name} reported {reason}");
            }
        }
        foreach (var (_, reason) in result.TrackedOutputSteps.SelectMany(o => o.Value).SelectMany(s => s.Outputs))
            Assert.Equal(IncrementalStepRunReason.Cached, reason);
    }

    private static void AssertNoRoslynObjects(object? value, string step, int depth)
    {
        if (value is null || depth > 12 || value is string || value.GetType().IsPrimitive || value.GetType().IsEnum) return;
        Assert.False(value is ISymbol or SyntaxNode or Compilation or SemanticModel or Location or SyntaxTree,
            $"step {step} holds a {value.GetType().Name}");
        if (value is IEnumerable items)
        {
            foreach (var item in items) AssertNoRoslynObjects(item, step, depth + 1);
            return;
        }
        var type = value.GetType();
        foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
            AssertNoRoslynObjects(field.GetValue(value), step, depth + 1);
    }

    private static SyntaxTree Parse(string text, string path) =>
        CSharpSyntaxTree.ParseText(text, GeneratorHarness.ParseOptions, path: path);

    private static Compilation Replace(Compilation compilation, string path, string text)
    {
        var old = compilation.SyntaxTrees.Single(t => t.FilePath == path);
        return compilation.ReplaceSyntaxTree(old, Parse(text, path));
    }
}
