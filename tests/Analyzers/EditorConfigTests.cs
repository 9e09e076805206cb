using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Testing;
using RaySharp.Analyzers.Tests.Verifiers;
using Xunit;

namespace RaySharp.Analyzers.Tests;

/// <summary>Users tune RaySharp's rules in .editorconfig like any other analyzer's: the severities must follow.</summary>
public class EditorConfigTests
{
    private const string NotPartial = """
        public static class {|#0:MathTasks|}
        {
            [RayRemote]
            public static int Add(int a, int b) => a + b;
        }
        """;

    private static Task RunAsync<TAnalyzer>(string source, string editorConfig, params DiagnosticResult[] expected)
        where TAnalyzer : Microsoft.CodeAnalysis.Diagnostics.DiagnosticAnalyzer, new()
    {
        var test = new AnalyzerVerifier<TAnalyzer>.Test { TestCode = source };
        test.TestState.AnalyzerConfigFiles.Add(("/.editorconfig", "root = true\n\n[*]\n" + editorConfig));
        test.ExpectedDiagnostics.AddRange(expected);
        return test.RunAsync();
    }

    [Fact]
    public Task An_error_rule_can_be_lowered_to_a_warning() => RunAsync<PartialTypeAnalyzer>(NotPartial,
        "dotnet_diagnostic.RAY001.severity = warning\n",
        new DiagnosticResult("RAY001", DiagnosticSeverity.Warning).WithLocation(0).WithArguments("MathTasks", "'MathTasks'"));

    [Fact]
    public Task An_error_rule_can_be_turned_off() => RunAsync<PartialTypeAnalyzer>(NotPartial.Replace("{|#0:MathTasks|}", "MathTasks"),
        "dotnet_diagnostic.RAY001.severity = none\n");
}
