using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Testing;
using RaySharp.Generators;

namespace RaySharp.Analyzers.Tests.Verifiers;

/// <summary>
/// Runs an analyzer (and optionally its code fix) over a snippet compiled with the RaySharp generator, so the
/// snippet can call <c>X.Remote.F(...)</c> and actor methods on handles as user code does. The generated
/// proxies are not compared, only the diagnostics in the snippet.
/// </summary>
public static class GeneratedProxyVerifier<TAnalyzer>
    where TAnalyzer : DiagnosticAnalyzer, new()
{
    /// <summary>Snippets here aggregate results with LINQ as user code does.</summary>
    private const string LinqUsing = "global using System.Linq;";

    /// <summary>A warning at a marked span; the additional locations some rules attach for their fix are not compared.</summary>
    public static DiagnosticResult Warning(string id) =>
        new DiagnosticResult(id, DiagnosticSeverity.Warning).WithOptions(DiagnosticOptions.IgnoreAdditionalLocations);

    public static Task VerifyAsync(string source, params DiagnosticResult[] expected)
    {
        var test = new Test { TestCode = source };
        test.ExpectedDiagnostics.AddRange(expected);
        return test.RunAsync();
    }

    public static Task VerifyFixAsync<TCodeFix>(string source, string fixedSource, int? iterations = null, bool topLevelProgram = false)
        where TCodeFix : CodeFixProvider, new()
    {
        var test = new FixTest<TCodeFix> { TestCode = source, FixedCode = fixedSource };
        if (topLevelProgram)
        {
            test.TestState.OutputKind = OutputKind.ConsoleApplication;
            test.FixedState.OutputKind = OutputKind.ConsoleApplication;
        }

        if (iterations is { } n)
        {
            test.NumberOfIncrementalIterations = n;
            test.NumberOfFixAllIterations = 1;
        }

        return test.RunAsync();
    }

    public sealed class Test : CSharpAnalyzerTest<TAnalyzer, DefaultVerifier>
    {
        public Test()
        {
            ReferenceAssemblies = TestEnvironment.Net10;
            TestEnvironment.Configure(TestState);
            TestState.Sources.Add(("LinqUsing.cs", LinqUsing));
            TestBehaviors |= TestBehaviors.SkipGeneratedSourcesCheck;
        }

        protected override IEnumerable<Type> GetSourceGenerators() => [typeof(RayRemoteGenerator)];
    }

    public sealed class FixTest<TCodeFix> : CSharpCodeFixTest<TAnalyzer, TCodeFix, DefaultVerifier>
        where TCodeFix : CodeFixProvider, new()
    {
        public FixTest()
        {
            ReferenceAssemblies = TestEnvironment.Net10;
            TestEnvironment.Configure(TestState);
            TestEnvironment.Configure(FixedState);
            TestState.Sources.Add(("LinqUsing.cs", LinqUsing));
            FixedState.Sources.Add(("LinqUsing.cs", LinqUsing));

            // A code fix reads the document's own semantic model, which only knows the generated proxies when
            // the project itself carries the generator (as a user's project does), not when the test harness
            // runs it on the side.
            SolutionTransforms.Add((solution, projectId) => solution.AddAnalyzerReference(
                projectId,
                new AnalyzerFileReference(typeof(RayRemoteGenerator).Assembly.Location, LoadedAssemblyLoader.Instance)));
        }
    }
}
