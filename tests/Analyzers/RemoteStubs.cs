using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Testing;
using RaySharp.Analyzers.Tests.Verifiers;

namespace RaySharp.Analyzers.Tests;

/// <summary>
/// Remote types and the proxies the RaySharp generator would emit for them, written out by hand in the
/// generator's shape (a nested <c>RemoteProxy</c> struct, <c>ActorHandle</c> extensions, <c>Arg&lt;T&gt;</c>
/// parameters): the analyzer tests run without the generator, and the flow analyzers recognize remote calls
/// by that shape. Snippets call <c>Tasks.Remote.Square(i)</c> and <c>counter.Add(1)</c> as users do.
/// </summary>
internal static class RemoteStubs
{
    public const string Source = """
        public static partial class Tasks
        {
            [RayRemote]
            public static int Square(int x) => x * x;

            [RayRemote]
            public static int Add(int a, int b)
            {
                return a + b;
            }

            [RayRemote]
            public static long Total(int[] values)
            {
                long total = 0;
                foreach (var v in values) total += v;
                return total;
            }

            [RayRemote]
            public static string Describe(int x) => x.ToString();

            [RayRemote]
            public static byte[] Load(string path) => File.ReadAllBytes(path);

            public static RemoteProxy Remote => default;

            public readonly struct RemoteProxy
            {
                public ObjectRef<int> Square(Arg<int> x) => throw null!;
                public ObjectRef<int> Add(Arg<int> a, Arg<int> b) => throw null!;
                public ObjectRef<long> Total(Arg<int[]> values) => throw null!;
                public ObjectRef<string> Describe(Arg<int> x) => throw null!;
                public ObjectRef<byte[]> Load(Arg<string> path) => throw null!;
            }
        }

        [RayRemote]
        public partial class Counter
        {
            private int _count;
            public int Add(int delta) => _count += delta;
            public int Read() => _count;

            public static RemoteProxy Remote => default;

            public readonly struct RemoteProxy
            {
                public ActorHandle<Counter> Create() => throw null!;
            }
        }

        public static class CounterActorExtensions
        {
            public static ObjectRef<int> Add(this ActorHandle<Counter> actor, Arg<int> delta) => throw null!;
            public static ObjectRef<int> Read(this ActorHandle<Counter> actor) => throw null!;
        }
        """;

    /// <summary>Runs <typeparamref name="TAnalyzer"/> over <paramref name="source"/> with the stubs beside it.</summary>
    public static Task VerifyAsync<TAnalyzer>(string source, params DiagnosticResult[] expected)
        where TAnalyzer : DiagnosticAnalyzer, new()
    {
        var test = new AnalyzerVerifier<TAnalyzer>.Test { TestCode = source };
        test.TestState.Sources.Add(("Remote.cs", Source));
        test.ExpectedDiagnostics.AddRange(expected);
        return test.RunAsync();
    }

    /// <summary>Runs the analyzer and its fix (one by one and Fix-All), with the stubs in the project before and after.</summary>
    public static Task VerifyFixAsync<TAnalyzer, TCodeFix>(string source, string fixedSource, int iterations = 1)
        where TAnalyzer : DiagnosticAnalyzer, new()
        where TCodeFix : CodeFixProvider, new()
    {
        var test = new CodeFixVerifier<TAnalyzer, TCodeFix>.Test { TestCode = source, FixedCode = fixedSource };
        test.TestState.Sources.Add(("Remote.cs", Source));
        test.FixedState.Sources.Add(("Remote.cs", Source));
        test.NumberOfIncrementalIterations = iterations;
        test.NumberOfFixAllIterations = iterations == 0 ? 0 : 1;
        return test.RunAsync();
    }
}
