using Microsoft.CodeAnalysis.Testing;
using Xunit;

namespace RaySharp.Analyzers.Tests;

public class ViewLifetimeTests
{
    private static Task VerifyAsync(string source, params DiagnosticResult[] expected) =>
        RemoteStubs.VerifyAsync<ViewLifetimeAnalyzer>(source, expected);

    private static DiagnosticResult Expected(int location) =>
        new DiagnosticResult(DiagnosticDescriptors.ViewOutlivesPin).WithLocation(location);

    // ---- raises: view parameters of remote code ----

    [Fact]
    public Task View_parameter_or_its_memory_stored_in_fields() => VerifyAsync("""
        [RayRemote]
        public partial class Model
        {
            private static ObjectView<float>? s_last;
            private readonly ReadOnlyMemory<float> _weights;
            private readonly List<ReadOnlyMemory<float>> _history = new();

            public Model(ObjectView<float> weights) => _weights = {|#0:weights.Memory|};

            public long Keep(ObjectView<float> input)
            {
                s_last = {|#1:input|};
                var tail = input.Memory.Slice(1);
                _history.Add({|#2:tail|});
                return input.Length;
            }
        }
        """,
        Expected(0).WithMessage(
            "ObjectView 'weights' is disposed when the constructor of actor 'Model' returns, yet 'weights.Memory' is stored in field 'Model._weights': copy what must outlive the view (ToArray()), or keep the view alive and dispose it in one scope"),
        Expected(1).WithArguments("input", "when remote method 'Model.Keep' returns", "input", "is stored in static field 'Model.s_last'"),
        Expected(2).WithArguments("input", "when remote method 'Model.Keep' returns", "tail", "is added to field 'Model._history'"));

    [Fact]
    public Task View_parameter_captured_by_a_callback_that_outlives_the_call() => VerifyAsync("""
        public static partial class Vectors
        {
            private static Func<double>? s_pending;

            [RayRemote]
            public static long Start(ObjectView<float> data)
            {
                _ = Task.Run(() => Sum({|#0:data|}.Memory));
                var memory = data.Memory;
                s_pending = () => Sum({|#1:memory|});
                return data.Length;
            }

            private static double Sum(ReadOnlyMemory<float> values)
            {
                double total = 0;
                foreach (var x in values.Span) total += x;
                return total;
            }
        }
        """,
        Expected(0).WithArguments("data", "when remote method 'Vectors.Start' returns", "data", "is captured by a callback that is started with Task.Run that nobody awaits"),
        Expected(1).WithArguments("data", "when remote method 'Vectors.Start' returns", "memory", "is captured by a callback that is stored in static field 'Vectors.s_pending'"));

    // ---- raises: views declared with using ----

    [Fact]
    public Task Memory_returned_past_the_using_that_disposes_the_view() => VerifyAsync("""
        public static class Loader
        {
            public static ReadOnlyMemory<float> Load(ObjectRef<float[]> weights)
            {
                using var view = Ray.GetView(weights);
                return {|#0:view.Memory|};
            }

            public static ReadOnlySpan<float> Head(ObjectRef<float[]> weights)
            {
                using (var view = Ray.GetView(weights))
                {
                    return {|#1:view.Span[..4]|};
                }
            }
        }
        """,
        Expected(0).WithMessage(
            "ObjectView 'view' is disposed at the end of its using scope, yet 'view.Memory' is returned from 'Load': copy what must outlive the view (ToArray()), or keep the view alive and dispose it in one scope"),
        Expected(1).WithArguments("view", "at the end of its using scope", "view.Span[..4]", "is returned from 'Head'"));

    [Fact]
    public Task Memory_used_after_the_using_scope_ends() => VerifyAsync("""
        public sealed class Reader
        {
            private ReadOnlyMemory<float> _cache;

            public float First(ObjectRef<float[]> weights)
            {
                ReadOnlyMemory<float> memory;
                using (var view = Ray.GetView(weights))
                {
                    memory = view.Memory[1..];
                }
                return {|#0:memory|}.Span[0];
            }

            public float Block(ObjectRef<float[]> weights, bool cache)
            {
                ReadOnlyMemory<float> memory = default;
                if (cache)
                {
                    using var view = Ray.GetView(weights);
                    memory = view.Memory;
                    _cache = {|#1:memory|};
                }
                return {|#2:memory|}.Length > 0 ? memory.Span[0] : 0;
            }

            public float Explicit(ObjectRef<float[]> weights)
            {
                var view = Ray.GetView(weights);
                using (view)
                {
                }
                return {|#3:view|}.Span[0];
            }
        }
        """,
        Expected(0).WithArguments("view", "at the end of its using scope", "memory", "is used after that scope ends"),
        Expected(1).WithArguments("view", "at the end of its using scope", "memory", "is stored in field 'Reader._cache'"),
        Expected(2).WithArguments("view", "at the end of its using scope", "memory", "is used after that scope ends"),
        Expected(3).WithArguments("view", "at the end of its using scope", "view", "is used after that scope ends"));

    // ---- silent ----

    [Fact]
    public Task Copies_of_the_elements_may_outlive_the_view() => VerifyAsync("""
        using System.Linq;

        [RayRemote]
        public partial class Model
        {
            private readonly float[] _weights;
            private float _first;
            private long _count;
            private float[]? _last;

            public Model(ObjectView<float> weights) => _weights = weights.Span.ToArray();

            public double Score(ObjectView<float> input)
            {
                _first = input.Span[0];
                _count = input.Length;
                _last = input.Memory.Slice(1).ToArray();
                var copy = input.Span.ToArray();
                _ = Task.Run(() => copy.Sum());
                return copy.Zip(_weights, (a, b) => (double)a * b).Sum();
            }
        }

        public static class Loader
        {
            public static float[] Load(ObjectRef<float[]> weights)
            {
                using var view = Ray.GetView(weights);
                return view.Span.ToArray();
            }
        }
        """);

    [Fact]
    public Task Views_read_within_their_scope_are_fine() => VerifyAsync("""
        using System.Linq;

        public static partial class Vectors
        {
            [RayRemote]
            public static async Task<double> SumAsync(ObjectView<float> data)
            {
                var memory = data.Memory;
                var half = await Task.Run(() => Sum(memory[..(memory.Length / 2)]));
                Func<int, float> at = i => data.Span[i];
                return half + Enumerable.Range(0, 3).Select(i => (double)at(i)).Sum() + Sum(data.Memory);
            }

            public static double Local(ObjectRef<float[]> values)
            {
                double total;
                using (var view = Ray.GetView(values))
                {
                    var span = view.Span;
                    total = Sum(view.Memory) + span[0];
                }
                using var again = Ray.GetView(values);
                ReadOnlyMemory<float> memory = again.Memory;
                return total + memory.Span[0];
            }

            public static float Reassigned(ObjectRef<float[]> values, float[] fallback)
            {
                ReadOnlyMemory<float> memory;
                using (var view = Ray.GetView(values))
                {
                    memory = view.Memory;
                    Console.WriteLine(memory.Length);
                }
                memory = fallback;
                return memory.Span[0];
            }

            private static double Sum(ReadOnlyMemory<float> values)
            {
                double total = 0;
                foreach (var x in values.Span) total += x;
                return total;
            }
        }
        """);

    [Fact]
    public Task Views_whose_end_the_code_does_not_show_are_not_followed() => VerifyAsync("""
        public sealed class WeightsHolder : IDisposable
        {
            private readonly ObjectView<float> _view;
            private readonly ReadOnlyMemory<float> _memory;

            // A view the caller hands over: its lifetime is this holder's, which disposes it.
            public WeightsHolder(ObjectView<float> view)
            {
                _view = view;
                _memory = view.Memory;
            }

            public static WeightsHolder Open(ObjectRef<float[]> weights) => new(Ray.GetView(weights));

            public void Dispose() => _view.Dispose();
        }

        public static partial class Vectors
        {
            // The result is serialized before the runtime disposes the view, so the caller receives a copy.
            [RayRemote]
            public static ReadOnlyMemory<float> Head(ObjectView<float> data) => data.Memory[..4];

            [RayRemote]
            public static long Count(ObjectView<float> data) => Helper(data).Length;

            private static ReadOnlyMemory<float> Helper(ObjectView<float> view) => view.Memory;
        }
        """);
}
