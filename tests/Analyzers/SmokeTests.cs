using RaySharp.Analyzers.Tests.Verifiers;
using Xunit;

namespace RaySharp.Analyzers.Tests;

public class SmokeTests
{
    [Fact]
    public Task Partial() => AnalyzerVerifier<PartialTypeAnalyzer>.VerifyAsync("""
        public static class {|RAY001:MathTasks|}
        {
            [RayRemote]
            public static int Add(int a, int b) => a + b;
        }
        """);
}
