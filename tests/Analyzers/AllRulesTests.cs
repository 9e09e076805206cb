using System.Collections.Immutable;
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Testing;
using RaySharp.Analyzers.Tests.Verifiers;
using Xunit;

namespace RaySharp.Analyzers.Tests;

/// <summary>All six shape analyzers (and the bundle-index and view-lifetime rules) at once, on code that is right and on
/// compilations without RaySharp.</summary>
public class AllRulesTests
{
    [Fact]
    public Task The_documented_api_sample_raises_nothing() => RunAsync(withRaySharp: true, """
        using System.Runtime.CompilerServices;

        namespace MyApp;

        public static partial class MathTasks
        {
            [RayRemote]
            public static int Add(int a, int b) => a + b;

            [RayRemote(NumCpus = 0.5, MaxRetries = 5, RetryExceptions = true)]
            public static async Task<byte[]> Fetch(string key, CancellationToken ct) { await Task.Delay(1, ct); return []; }

            [RayRemote(NumReturns = 2)]
            public static (int Sum, string Text) Both(int a, int b) => (a + b, $"{a}+{b}");

            [RayRemote]
            public static async IAsyncEnumerable<int> Produce(int n, [EnumeratorCancellation] CancellationToken ct = default)
            {
                for (int i = 0; i < n; i++) { await Task.Yield(); yield return i; }
            }
        }

        [RayRemote(MaxRestarts = 2, MaxTaskRetries = 1, Resources = new[] { "accelerator=0.5" })]
        public partial class Counter
        {
            private int _count;
            public Counter(int start) => _count = start;
            public int Increment() => ++_count;
            public async Task<int> SlowRead() { await Task.Delay(10); return _count; }
            public void Reset() => _count = 0;
        }
        """);

    [Fact]
    public Task The_documented_object_view_sample_raises_nothing() => RunAsync(withRaySharp: true, """
        namespace MyApp;

        public static partial class Weights
        {
            [RayRemote]
            public static double Norm(ObjectView<float> weights, CancellationToken ct)
            {
                double total = 0;
                foreach (var w in weights.Span) total += (double)w * w;
                return Math.Sqrt(total);
            }

            public static double Run(float[] data, TimeSpan timeout)
            {
                ObjectRef<float[]> weights = Ray.Put<float>(data.AsSpan());
                using ObjectView<float> view = Ray.GetView(weights, timeout);
                ReadOnlySpan<float> span = view.Span;
                ReadOnlyMemory<float> memory = view.Memory;
                long length = view.Length;
                return span[0] + memory.Span[0] + length;
            }
        }

        [RayRemote]
        public partial class Model
        {
            private readonly float[] _weights;
            public Model(ObjectView<float> weights) => _weights = weights.Span.ToArray();
            public async Task<float> Score(ObjectView<float> input) { await Task.Yield(); return input.Memory.Span[0] * _weights[0]; }
        }
        """);

    [Fact]
    public Task Without_a_RaySharp_reference_nothing_is_analyzed() => RunAsync(withRaySharp: false, """
        using System;

        // Same names as RaySharp's, but not RaySharp: the analyzers must not match by name.
        [AttributeUsage(AttributeTargets.Class | AttributeTargets.Method)]
        public sealed class RayRemoteAttribute : Attribute
        {
            public double NumCpus { get; set; }
            public int NumReturns { get; set; }
        }

        [RayRemote(NumCpus = 1.5)]
        public abstract class Counter
        {
            [RayRemote(NumReturns = 3)]
            public static object Run(ref int x, System.IO.Stream s) => s;

            public static object Run(ref int x, System.IO.Stream s, System.Threading.CancellationToken ct) => s;
        }

        public sealed class PlacementGroup { }

        public sealed class PlacementGroupSchedulingStrategy
        {
            public PlacementGroupSchedulingStrategy(PlacementGroup pg, int bundleIndex = -1) { }

            public static PlacementGroupSchedulingStrategy Invalid() => new(new PlacementGroup(), -2);
        }
        """);

    private static Task RunAsync(bool withRaySharp, string source)
    {
        var test = new AllAnalyzersTest { TestCode = source, ReferenceAssemblies = TestEnvironment.Net10 };
        if (withRaySharp)
        {
            TestEnvironment.Configure(test.TestState);
        }

        return test.RunAsync();
    }

    private sealed class AllAnalyzersTest : CSharpAnalyzerTest<PartialTypeAnalyzer, DefaultVerifier>
    {
        protected override IEnumerable<DiagnosticAnalyzer> GetDiagnosticAnalyzers() => ImmutableArray.Create<DiagnosticAnalyzer>(
            new PartialTypeAnalyzer(),
            new WireTypeAnalyzer(),
            new RemoteShapeAnalyzer(),
            new NumReturnsAnalyzer(),
            new ResourceRequestAnalyzer(),
            new FunctionIdAnalyzer(),
            new BundleIndexAnalyzer(),
            new ViewLifetimeAnalyzer());
    }
}
