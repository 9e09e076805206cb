using Microsoft.CodeAnalysis.Testing;
using Xunit;
using Verify = RaySharp.Analyzers.Tests.Verifiers.GeneratedProxyVerifier<RaySharp.Analyzers.AntiPatterns.UnawaitedRemoteCallSuppressor>;

namespace RaySharp.Analyzers.Tests;

/// <summary>RAYSP001: CS4014 is suppressed for dropped remote-call refs, and only for them.</summary>
public class UnawaitedRemoteCallSuppressorTests
{
    private const string Remote = """

        [RayRemote]
        public partial class Counter
        {
            private int _count;
            public int Increment() => ++_count;
            public void Reset() => _count = 0;
        }

        public static partial class Jobs
        {
            [RayRemote]
            public static int Square(int x) => x * x;
        }
        """;

    [Fact]
    public Task Fire_and_forget_remote_calls_are_not_warned_about() => RunAsync("""
        public static class Driver
        {
            public static async Task RunAsync(ActorHandle<Counter> counter)
            {
                {|#0:counter.Increment()|};
                {|#1:counter.Reset()|};
                {|#2:Jobs.Remote.Square(2)|};
                await Task.Yield();
            }
        }
        """ + Remote,
        DiagnosticResult.CompilerWarning("CS4014").WithLocation(0).WithIsSuppressed(true),
        DiagnosticResult.CompilerWarning("CS4014").WithLocation(1).WithIsSuppressed(true),
        DiagnosticResult.CompilerWarning("CS4014").WithLocation(2).WithIsSuppressed(true));

    [Fact]
    public Task An_unawaited_real_task_keeps_its_warning() => RunAsync("""
        public static class Driver
        {
            public static async Task RunAsync(ActorHandle<Counter> counter)
            {
                {|#0:Task.Delay(10)|};
                {|#1:SaveAsync()|};
                {|#2:counter.Increment().AsTask()|};
                await Task.Yield();
            }

            private static async Task SaveAsync() => await Task.Yield();
        }
        """ + Remote,
        DiagnosticResult.CompilerWarning("CS4014").WithLocation(0).WithIsSuppressed(false),
        DiagnosticResult.CompilerWarning("CS4014").WithLocation(1).WithIsSuppressed(false),
        DiagnosticResult.CompilerWarning("CS4014").WithLocation(2).WithIsSuppressed(false));

    private static Task RunAsync(string source, params DiagnosticResult[] expected)
    {
        var test = new Verify.Test { TestCode = source, CompilerDiagnostics = CompilerDiagnostics.Warnings };
        test.DisabledDiagnostics.Add("CS1591");   // the harness documents nothing; only CS4014 matters here
        test.ExpectedDiagnostics.AddRange(expected);
        return test.RunAsync();
    }
}
