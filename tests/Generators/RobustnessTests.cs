using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace RaySharp.Generators.Tests;

/// <summary>The generator runs on code being typed: broken user code must never make it throw or report anything.</summary>
public sealed class RobustnessTests
{
    public static TheoryData<string, string> BrokenSources => new()
    {
        {
            "syntax errors",
            """
            using RaySharp;
            namespace MyApp;
            public static partial class MathTasks
            {
                [RayRemote]
                public static int Add(int a, int b => a + ;

                [RayRemote(NumCpus = )]
                public static int Sub(int a int b) { return a - b
            }
            """
        },
        {
            "missing types in remote signatures",
            """
            using System.Threading.Tasks;
            using RaySharp;
            namespace MyApp;
            public static partial class MathTasks
            {
                [RayRemote]
                public static Missing Make(AlsoMissing input) => default!;

                [RayRemote]
                public static Task<List<Missing>> MakeMany(int n) => null!;

                [RayRemote(NumReturns = 2)]
                public static (Missing, int) Pair() => default;

                [RayRemote]
                public static int Fine(int x) => x;
            }

            [RayRemote]
            public partial class Broken : MissingBase
            {
                public Broken(Missing m) { }
                public Missing Get(Unknown u) => default!;
                public int Works() => 1;
            }
            """
        },
        {
            "attribute on non-partial types",
            """
            using RaySharp;
            namespace MyApp;
            [RayRemote]
            public class Counter
            {
                public int Increment() => 1;
            }
            public static class MathTasks
            {
                [RayRemote]
                public static int Add(int a, int b) => a + b;
            }
            """
        },
        {
            "bad attribute arguments",
            """
            using RaySharp;
            namespace MyApp;
            public static partial class MathTasks
            {
                [RayRemote(NumCpus = "lots", Resources = "gpu=1", NumReturns = -1, Name = 3)]
                public static int Add(int a, int b) => a + b;

                [RayRemote(Unknown = 1)]
                public static int Sub(int a, int b) => a - b;
            }
            [RayRemote(MaxRestarts = "x")]
            public partial class Counter
            {
                [RayMethod(NumReturns = "two")]
                public (int, int) Pair() => (1, 2);
            }
            """
        },
        {
            "attribute on other targets",
            """
            using RaySharp;
            namespace MyApp;
            [RayRemote]
            public partial struct NotAClass { }
            [RayRemote]
            public partial interface INotAClass { }
            [RayRemote]
            public partial record Rec(int X) { public int Y() => X; }
            public partial class Holder
            {
                [RayRemote]
                public int Property => 1;
                public int Local()
                {
                    [RayRemote]
                    static int Inner() => 1;
                    return Inner();
                }
            }
            """
        },
    };

    [Theory]
    [MemberData(nameof(BrokenSources))]
    public void BrokenUserCodeDoesNotBreakTheGenerator(string what, string source)
    {
        var compilation = GeneratorHarness.CreateCompilation(source);
        // Non-partial types compile (the analyzer reports them); every other case is a compile error in user code.
        if (what != "attribute on non-partial types")
            Assert.Contains(compilation.GetDiagnostics(), d => d.Severity == DiagnosticSeverity.Error);

        var driver = GeneratorHarness.CreateDriver(trackSteps: true)
            .RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics);

        var result = driver.GetRunResult();
        GeneratorHarness.AssertNoGeneratorFailures(result);
        Assert.Empty(diagnostics);
        // Whatever was generated adds no errors of its own.
        var generatedErrors = output.GetDiagnostics()
            .Where(d => d.Severity == DiagnosticSeverity.Error && d.Location.SourceTree?.FilePath.EndsWith(".g.cs", StringComparison.Ordinal) == true)
            .ToList();
        Assert.True(generatedErrors.Count == 0, string.Join("\n", generatedErrors));
    }

    [Fact]
    public void MissingRuntimeReferenceGeneratesNothing()
    {
        var compilation = CSharpCompilation.Create(
            "NoRuntime",
            [CSharpSyntaxTree.ParseText("""
                namespace MyApp;
                public static partial class MathTasks
                {
                    [RaySharp.RayRemote]
                    public static int Add(int a, int b) => a + b;
                }
                """, GeneratorHarness.ParseOptions)],
            GeneratorHarness.References.Where(r => !(r.Display ?? "").Contains("RaySharp", StringComparison.Ordinal)),
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));

        var result = GeneratorHarness.CreateDriver().RunGenerators(compilation).GetRunResult();

        GeneratorHarness.AssertNoGeneratorFailures(result);
        Assert.Empty(result.GeneratedTrees);
    }

    [Fact]
    public void FunctionsOfOneTypeInSeveralPartialFilesShareOneFile()
    {
        var (result, output) = GeneratorHarness.Run(
            """
            using RaySharp;
            namespace MyApp;
            public static partial class MathTasks
            {
                [RayRemote]
                public static int Add(int a, int b) => a + b;
            }
            """,
            """
            using RaySharp;
            namespace MyApp;
            public static partial class MathTasks
            {
                [RayRemote]
                public static int Sub(int a, int b) => a - b;
            }
            """);
        var file = Assert.Single(result.Results.Single().GeneratedSources);
        Assert.Equal("MathTasks.RaySharp.g.cs", file.HintName);
        Assert.Contains("Sub(", file.SourceText.ToString());
        GeneratorHarness.AssertCompilesCleanly(output);
    }

    [Fact]
    public void TypesWithTheSameNameInDifferentNamespacesGetDistinctFiles()
    {
        var (result, output) = GeneratorHarness.Run(
            """
            using RaySharp;
            namespace A { public static partial class Jobs { [RayRemote] public static int Run() => 1; } }
            namespace B { public static partial class Jobs { [RayRemote] public static int Run() => 2; } }
            """);
        Assert.Equal(["A.Jobs.RaySharp.g.cs", "B.Jobs.RaySharp.g.cs"], result.Results.Single().GeneratedSources.Select(s => s.HintName).Order());
        GeneratorHarness.AssertCompilesCleanly(output);
    }
}
