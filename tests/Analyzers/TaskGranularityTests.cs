using Microsoft.CodeAnalysis.Testing;
using Xunit;

namespace RaySharp.Analyzers.Tests;

public class TaskGranularityTests
{
    private static Task VerifyAsync(string source, params DiagnosticResult[] expected) =>
        RemoteStubs.VerifyAsync<TaskGranularityAnalyzer>(source, expected);

    // ---- RAY107: raises ----

    [Fact]
    public Task Trivial_task_per_iteration_of_a_large_constant_loop() => VerifyAsync("""
        public static class Driver
        {
            public static int[] Run()
            {
                var refs = new List<ObjectRef<int>>();
                for (var i = 0; i < 100_000; i++)
                {
                    refs.Add({|#0:Tasks.Remote.Square(i)|});
                }

                return Ray.Get(refs);
            }
        }
        """,
        new DiagnosticResult(DiagnosticDescriptors.TooFineGrained).WithLocation(0).WithMessage(
            "'Tasks.Square' is a trivial remote function called once per element of a collection of unknown or large size: each task costs more to schedule than it computes; give each task a batch of elements"));

    [Fact]
    public Task Trivial_task_per_element_of_a_collection_of_unknown_size() => VerifyAsync("""
        using System.Linq;

        public static class Driver
        {
            public static int Run(int[] values, int n)
            {
                var refs = new List<ObjectRef<int>>();
                foreach (var v in values)
                {
                    refs.Add({|RAY107:Tasks.Remote.Square(v)|});
                }

                for (var i = 0; i < n; i++)
                {
                    refs.Add({|RAY107:Tasks.Remote.Add(i, i)|});
                }

                var more = values.Select(v => {|RAY107:Tasks.Remote.Square(v)|}).ToList();
                return Ray.Get(refs).Length + more.Count;
            }
        }
        """);

    [Fact]
    public Task Overloads_are_told_apart_by_parameter_types() => VerifyAsync("""
        using System.Linq;

        public static partial class Scale
        {
            [RayRemote]
            public static int By(int x, int factor) => x * factor;

            [RayRemote]
            public static string By(string text, int times) => string.Concat(Enumerable.Repeat(text, times));

            public static RemoteProxy Remote => default;

            public readonly struct RemoteProxy
            {
                public ObjectRef<int> By(Arg<int> x, Arg<int> factor) => throw null!;
                public ObjectRef<string> By(Arg<string> text, Arg<int> times) => throw null!;
            }
        }

        public static class Driver
        {
            public static void Run(int[] values)
            {
                foreach (var v in values)
                {
                    {|RAY107:Scale.Remote.By(v, 2)|};
                    Scale.Remote.By(v.ToString(), 2);
                }
            }
        }
        """);

    // ---- RAY107: silent ----

    [Fact]
    public Task Short_literal_loops_are_fine() => VerifyAsync("""
        public static class Driver
        {
            public static int Run()
            {
                var refs = new List<ObjectRef<int>>();
                for (var i = 0; i < 8; i++) refs.Add(Tasks.Remote.Square(i));
                foreach (var v in new[] { 1, 2, 3 }) refs.Add(Tasks.Remote.Square(v));
                var xs = new List<int> { 4, 5 };
                foreach (var x in xs) refs.Add(Tasks.Remote.Add(x, 1));
                return Ray.Get(refs).Length;
            }
        }
        """);

    [Fact]
    public Task Tasks_that_do_real_work_are_fine_per_element() => VerifyAsync("""
        public static class Driver
        {
            public static void Run(List<int[]> chunks, string[] paths, int n)
            {
                foreach (var chunk in chunks) Tasks.Remote.Total(chunk);
                foreach (var path in paths) Tasks.Remote.Load(path);
                for (var i = 0; i < n; i++) Tasks.Remote.Describe(i);
            }
        }
        """);

    [Fact]
    public Task Actor_calls_and_calls_outside_loops_are_fine() => VerifyAsync("""
        public static class Driver
        {
            public static int Run(ActorHandle<Counter> counter, int[] values)
            {
                foreach (var v in values) counter.Add(v);
                var one = Tasks.Remote.Square(values.Length);
                return one.Get();
            }
        }
        """);
}
