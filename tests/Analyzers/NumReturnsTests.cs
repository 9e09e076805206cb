using Xunit;
using Verify = RaySharp.Analyzers.Tests.Verifiers.AnalyzerVerifier<RaySharp.Analyzers.NumReturnsAnalyzer>;

namespace RaySharp.Analyzers.Tests;

public class NumReturnsTests
{
    // ---- raises RAY004 ----

    [Fact]
    public Task Count_differs_from_tuple_arity() => Verify.VerifyAsync("""
        public static partial class Stats
        {
            [RayRemote({|#0:NumReturns = 3|})]
            public static (int Sum, string Text) Both(int a, int b) => (a + b, $"{a}+{b}");
        }
        """,
        Verify.Diagnostic("RAY004").WithLocation(0).WithMessage(
            "'Stats.Both' sets NumReturns = 3, but it returns a tuple of 2 elements; set NumReturns = 2 to get one object per element, or remove it to get the tuple as one object"));

    [Fact]
    public Task Count_set_on_a_value_that_is_not_a_tuple() => Verify.VerifyAsync("""
        public static partial class Stats
        {
            [RayRemote(NumCpus = 1, {|#0:NumReturns = 2|})]
            public static int[] Split(int n) => new int[n];
        }
        """,
        Verify.Diagnostic("RAY004").WithLocation(0).WithMessage(
            "'Stats.Split' sets NumReturns = 2, but it returns 'int[]', which is not a tuple; return a tuple of 2 elements or remove NumReturns"));

    [Fact]
    public Task Async_tuple_returns_are_checked_through_Task_and_ValueTask() => Verify.VerifyAsync("""
        public static partial class Stats
        {
            [RayRemote({|RAY004:NumReturns = 2|})]
            public static Task<(int, int, int)> Three() => Task.FromResult((1, 2, 3));

            [RayRemote({|RAY004:NumReturns = 4|})]
            public static ValueTask<(int, int, int)> AlsoThree() => default;
        }
        """);

    [Fact]
    public Task RayMethod_on_actor_methods_and_void_or_streaming_returns() => Verify.VerifyAsync("""
        [RayRemote]
        public partial class Counter
        {
            [RayMethod({|RAY004:NumReturns = 3|})]
            public ValueTask<(int, string)> Snapshot() => default;

            [RayMethod({|RAY004:NumReturns = 2|})]
            public void Reset() { }

            [RayMethod({|RAY004:NumReturns = 2|})]
            public async IAsyncEnumerable<int> Count(int n)
            {
                for (var i = 0; i < n; i++) { await Task.Yield(); yield return i; }
            }
        }
        """);

    [Fact]
    public Task NumReturns_on_the_actor_class() => Verify.VerifyAsync("""
        [RayRemote(MaxRestarts = 1, {|#0:NumReturns = 2|})]
        public partial class Counter
        {
            public (int, int) Pair() => (1, 2);
        }
        """,
        Verify.Diagnostic("RAY004").WithLocation(0).WithMessage(
            "'Counter' sets NumReturns = 2, but an actor class returns nothing itself; put [RayMethod(NumReturns = 2)] on the method that returns the tuple"));

    // ---- close look-alikes that must stay silent ----

    [Fact]
    public Task Count_matching_the_tuple_is_fine() => Verify.VerifyAsync("""
        public static partial class Stats
        {
            [RayRemote(NumReturns = 2)]
            public static (int Sum, string Text) Both(int a, int b) => (a + b, $"{a}+{b}");

            [RayRemote(NumReturns = 3)]
            public static async Task<(int A, int B, int C)> Three() { await Task.Yield(); return (1, 2, 3); }

            [RayRemote]
            public static (int, int) NoCount() => (1, 2);
        }
        """);

    [Fact]
    public Task One_means_a_single_object_for_any_value() => Verify.VerifyAsync("""
        public static partial class Stats
        {
            [RayRemote(NumReturns = 1)]
            public static int One() => 1;

            [RayRemote(NumReturns = 1)]
            public static (int, int) WholeTuple() => (1, 2);

            [RayRemote(NumReturns = 0)]
            public static Task Fire() => Task.CompletedTask;
        }
        """);

    [Fact]
    public Task RayMethod_matching_an_actor_method_is_fine() => Verify.VerifyAsync("""
        [RayRemote(MaxConcurrency = 2)]
        public partial class Counter
        {
            [RayMethod(NumReturns = 2)]
            public ValueTask<(int, string)> Snapshot() => default;

            [RayMethod(MaxTaskRetries = 3)]
            public int Increment() => 1;
        }

        public partial class NotAnActor
        {
            // Not remote at all: [RayMethod] outside an actor is not RAY004's business.
            [RayMethod(NumReturns = 5)]
            public int Value() => 1;
        }
        """);
}
