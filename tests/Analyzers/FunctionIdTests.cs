using RaySharp.Analyzers.Model;
using Xunit;
using Verify = RaySharp.Analyzers.Tests.Verifiers.AnalyzerVerifier<RaySharp.Analyzers.FunctionIdAnalyzer>;

namespace RaySharp.Analyzers.Tests;

public class FunctionIdTests
{
    // ---- raises RAY006 ----

    [Fact]
    public Task Overload_that_only_adds_a_cancellation_token() => Verify.VerifyAsync("""
        namespace MyApp;

        public static partial class Files
        {
            [RayRemote]
            public static Task<byte[]> Fetch(string key) => Task.FromResult(new byte[0]);

            [RayRemote]
            public static Task<byte[]> {|#0:Fetch|}(string key, CancellationToken ct) => Task.FromResult(new byte[0]);
        }
        """,
        Verify.Diagnostic("RAY006").WithLocation(0).WithMessage(
            "'Files.Fetch(string, CancellationToken)' collides with 'Files.Fetch(string)': both get the function ID of 'MyApp.Files.Fetch(string)'; rename one, or give one an explicit Name"));

    [Fact]
    public Task Explicit_names_that_collide() => Verify.VerifyAsync("""
        namespace MyApp;

        public static partial class MathTasks
        {
            [RayRemote(Name = "Sum")]
            public static int Add(int a, int b) => a + b;

            [RayRemote]
            public static int {|#0:Sum|}(int x, int y) => x + y;
        }

        [RayRemote]
        public partial class Store
        {
            [RayMethod(Name = "Get")]
            public string Read(string key) => key;

            public string {|RAY006:Get|}(string key) => key;
        }
        """,
        Verify.Diagnostic("RAY006").WithLocation(0).WithMessage(
            "'MathTasks.Sum(int, int)' collides with 'MathTasks.Add(int, int)': both get the function ID of 'MyApp.MathTasks.Sum(int,int)'; rename one, or give one an explicit Name"));

    [Fact]
    public Task Constructors_that_differ_only_by_a_token() => Verify.VerifyAsync("""
        [RayRemote]
        public partial class Counter
        {
            public Counter(int start) { }

            public {|RAY006:Counter|}(int start, CancellationToken ct) { }
        }
        """);

    [Fact]
    public Task Distinct_names_do_not_make_the_proxies_distinct() => Verify.VerifyAsync("""
        public static partial class Files
        {
            [RayRemote(Name = "FetchFast")]
            public static byte[] Fetch(string key) => new byte[0];

            [RayRemote(Name = "FetchSlow")]
            public static byte[] {|#0:Fetch|}(CancellationToken ct, string key) => new byte[0];
        }
        """,
        Verify.Diagnostic("RAY006").WithLocation(0).WithMessage(
            "'Files.Fetch(CancellationToken, string)' collides with 'Files.Fetch(string)': both would get the generated proxy 'Fetch(string)' (CancellationToken parameters are supplied by the runtime and are not part of the proxy); rename one"));

    [Fact]
    public Task Overloads_that_differ_only_by_a_value_against_its_ref() => Verify.VerifyAsync("""
        namespace MyApp;

        public static partial class MathTasks
        {
            [RayRemote]
            public static int F(int x) => x;

            [RayRemote]
            public static int {|#0:F|}(ObjectRef<int> x) => 0;
        }
        """,
        Verify.Diagnostic("RAY006").WithLocation(0).WithMessage(
            "'MathTasks.F(ObjectRef<int>)' collides with 'MathTasks.F(int)': they differ only by T against ObjectRef<T> in parameter 'x' (int or ObjectRef<int>); " +
            "the generated proxy takes a T parameter as Arg<T>, which accepts a value or a ref, so a call passing a ref there cannot say which of the two it means; " +
            "rename one (a Name override does not rename the proxy)"));

    [Fact]
    public Task Value_against_ref_in_several_parameters_and_nested_types() => Verify.VerifyAsync("""
        public static partial class Batches
        {
            [RayRemote]
            public static int Merge(List<int> items, string label, int weight) => weight;

            [RayRemote]
            public static int {|#0:Merge|}(ObjectRef<List<int>> items, string label, ObjectRef<int> weight, CancellationToken ct) => 0;

            [RayRemote]
            public static int {|#1:Merge|}(ObjectRef<List<int>> items, string label, int weight) => weight;
        }

        [RayRemote]
        public partial class Counter
        {
            public Counter(long start) { }

            public {|#2:Counter|}(ObjectRef<long> start) { }

            public int Add(int a, int b) => a + b;

            public int {|#3:Add|}(int a, ObjectRef<int> b) => a;
        }
        """,
        Verify.Diagnostic("RAY006").WithLocation(0).WithMessage(
            "'Batches.Merge(ObjectRef<List<int>>, string, ObjectRef<int>, CancellationToken)' collides with 'Batches.Merge(List<int>, string, int)': " +
            "they differ only by T against ObjectRef<T> in parameters 'items' (List<int> or ObjectRef<List<int>>), 'weight' (int or ObjectRef<int>); " +
            "the generated proxy takes a T parameter as Arg<T>, which accepts a value or a ref, so a call passing a ref there cannot say which of the two it means; " +
            "rename one (a Name override does not rename the proxy)"),
        Verify.Diagnostic("RAY006").WithLocation(1).WithArguments(
            "Batches.Merge(ObjectRef<List<int>>, string, int)", "Batches.Merge(List<int>, string, int)",
            "they differ only by T against ObjectRef<T> in parameter 'items' (List<int> or ObjectRef<List<int>>); " +
            "the generated proxy takes a T parameter as Arg<T>, which accepts a value or a ref, so a call passing a ref there cannot say which of the two it means; " +
            "rename one (a Name override does not rename the proxy)"),
        Verify.Diagnostic("RAY006").WithLocation(2),
        Verify.Diagnostic("RAY006").WithLocation(3));

    [Fact]
    public Task A_name_override_does_not_separate_a_value_from_its_ref() => Verify.VerifyAsync("""
        public static partial class MathTasks
        {
            [RayRemote(Name = "SquareValue")]
            public static int Square(int x) => x * x;

            // Distinct function IDs, but both proxies are still called Square.
            [RayRemote(Name = "SquareRef")]
            public static int {|RAY006:Square|}(ObjectRef<int> x) => 0;
        }
        """);

    // ---- close look-alikes that must stay silent ----

    [Fact]
    public Task Overloads_with_different_parameter_types_are_fine() => Verify.VerifyAsync("""
        public static partial class MathTasks
        {
            [RayRemote]
            public static int Add(int a, int b) => a + b;

            [RayRemote]
            public static long Add(long a, long b) => a + b;

            [RayRemote]
            public static int Add(int a, int b, int c, CancellationToken ct) => a + b + c;
        }
        """);

    [Fact]
    public Task Overloads_that_differ_otherwise_than_a_value_against_its_ref_are_fine() => Verify.VerifyAsync("""
        public static partial class MathTasks
        {
            [RayRemote]
            public static int F(int x) => x;

            [RayRemote]
            public static long F(long x) => x;

            [RayRemote]
            public static int K(ObjectRef<int> x) => 0;

            [RayRemote]
            public static int K(ObjectRef<long> x) => 0;

            [RayRemote]
            public static int F(ObjectRef<int> x, int y) => y;

            [RayRemote]
            public static int F(ObjectRef<int> x, string y) => 0;

            [RayRemote]
            public static int F(int x, long y) => x;

            // A ref to a ref-holding type: the proxy keeps ObjectRef<int>[] as it is, so it takes no ref for it.
            [RayRemote]
            public static int G(ObjectRef<int>[] refs) => refs.Length;

            [RayRemote]
            public static int G(ObjectRef<ObjectRef<int>[]> refs) => 0;

            [RayRemote]
            public static int H(int x) => x;

            [RayRemote]
            public static int RenamedH(ObjectRef<int> x) => 0;
        }
        """);

    [Fact]
    public Task Same_name_in_different_types_or_roles_is_fine() => Verify.VerifyAsync("""
        public static partial class A
        {
            [RayRemote]
            public static int Run(int n) => n;
        }

        public static partial class B
        {
            [RayRemote]
            public static int Run(int n) => n;
        }

        [RayRemote]
        public partial class Counter
        {
            public Counter(int start) { }

            // An actor method called Create does not clash with the constructor's Remote.Create proxy.
            public int Create(int start) => start;

            [RayRemote]
            public static int Run(int n) => n;
        }
        """);

    [Fact]
    public Task A_name_override_that_separates_two_methods_is_fine() => Verify.VerifyAsync("""
        public static partial class MathTasks
        {
            [RayRemote(Name = "AddV2")]
            public static int Add(int a, int b) => a + b;

            [RayRemote]
            public static int AddV1(int a, int b) => a + b;

            // Not remote: an overload that differs only by a token is fine when it is not remote.
            public static int AddV1(int a, int b, CancellationToken ct) => a + b;
        }
        """);

    [Theory]
    [InlineData("MyApp.MathTasks.Add(int,int)")]
    [InlineData("MyApp.Counter..ctor(int)")]
    [InlineData("Ünïcødé.Typ€.F(string)")]
    [InlineData("")]
    public void Function_ids_match_the_runtime(string signature) =>
        Assert.Equal(RaySharp.Internal.FunctionIds.Compute(signature), RaySharp.Internal.FunctionIdHash.Compute(signature));
}
