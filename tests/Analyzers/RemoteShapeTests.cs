using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;
using Verify = RaySharp.Analyzers.Tests.Verifiers.AnalyzerVerifier<RaySharp.Analyzers.RemoteShapeAnalyzer>;

namespace RaySharp.Analyzers.Tests;

public class RemoteShapeTests
{
    // ---- raises RAY003 ----

    [Fact]
    public Task By_reference_parameters() => Verify.VerifyAsync("""
        public static partial class Jobs
        {
            [RayRemote]
            public static void Increment({|#0:ref int counter|}) => counter++;

            [RayRemote]
            public static bool TryParse(string text, {|RAY003:out int value|}) => int.TryParse(text, out value);

            [RayRemote]
            public static int Sum({|RAY003:in (int A, int B) pair|}) => pair.A + pair.B;
        }
        """,
        Verify.Diagnostic("RAY003").WithLocation(0).WithMessage(
            "'Jobs.Increment' takes parameter 'counter' by 'ref', but remote arguments are copied to another process; take it by value and return any result"));

    [Fact]
    public Task By_reference_parameter_of_an_actor_method_and_ref_return() => Verify.VerifyAsync("""
        [RayRemote]
        public partial class Buffer
        {
            private int[] _data = new int[4];

            public void Fill({|RAY003:ref readonly int value|}) { }

            public {|RAY003:ref int|} First() => ref _data[0];
        }
        """);

    [Fact]
    public async Task Pointer_parameter()
    {
        var test = new Verify.Test
        {
            TestCode = """
                public static unsafe partial class Native
                {
                    [RayRemote]
                    public static int Read({|RAY003:int* address|}) => *address;
                }
                """,
        };
        test.SolutionTransforms.Add((solution, projectId) =>
        {
            var options = (CSharpCompilationOptions)solution.GetProject(projectId)!.CompilationOptions!;
            return solution.WithProjectCompilationOptions(projectId, options.WithAllowUnsafe(true));
        });
        await test.RunAsync();
    }

    [Fact]
    public Task Generic_remote_methods() => Verify.VerifyAsync("""
        public static partial class Jobs
        {
            [RayRemote]
            public static T {|#0:Echo|}<T>(T value) => value;
        }

        public static partial class Cache<T>
        {
            [RayRemote]
            public static int {|#1:Count|}(int n) => n;
        }

        [RayRemote]
        public partial class Store
        {
            public TValue {|RAY003:Get|}<TValue>(string key) => default!;
        }
        """,
        Verify.Diagnostic("RAY003").WithLocation(0).WithMessage(
            "'Jobs.Echo' is generic, but a remote method needs one function ID and one serializer per parameter; declare a non-generic method per type you need"),
        Verify.Diagnostic("RAY003").WithLocation(1).WithMessage(
            "'Cache<T>.Count' is declared in generic type 'Cache<T>', but remote functions must live in a non-generic type; move it to a non-generic class"));

    [Fact]
    public Task RayRemote_on_instance_methods_of_non_actors() => Verify.VerifyAsync("""
        public partial class Calculator
        {
            [RayRemote]
            public int {|#0:Add|}(int a, int b) => a + b;
        }

        public partial struct Vector
        {
            [RayRemote]
            public double {|RAY003:Length|}() => 0;
        }

        [RayRemote]
        public partial class Counter
        {
            [RayRemote]
            private int {|RAY003:Secret|}() => 42;
        }
        """,
        Verify.Diagnostic("RAY003").WithLocation(0).WithMessage(
            "'Calculator.Add' is an instance method of 'Calculator', which is not an actor class; make the method static to get a remote function, or mark the class [RayRemote] to make it an actor"));

    [Fact]
    public Task Abstract_static_and_generic_actor_classes() => Verify.VerifyAsync("""
        [RayRemote]
        public abstract partial class {|#0:Shape|}
        {
            public abstract double Area();
        }

        [RayRemote]
        public static partial class {|RAY003:Tasks|}
        {
            public static int Add(int a, int b) => a + b;
        }

        [RayRemote]
        public partial class {|RAY003:Cache|}<TValue>
        {
            public int Count() => 0;
        }
        """,
        Verify.Diagnostic("RAY003").WithLocation(0).WithMessage(
            "'Shape' is abstract, but an actor class must be concrete so a worker can construct it; mark the concrete subclass [RayRemote] instead"));

    [Fact]
    public Task Actor_without_a_public_constructor() => Verify.VerifyAsync("""
        [RayRemote]
        public partial class {|#0:Singleton|}
        {
            private Singleton() { }

            internal Singleton(int seed) { }

            public int Next() => 4;
        }
        """,
        Verify.Diagnostic("RAY003").WithLocation(0).WithMessage(
            "'Singleton' has no public constructor, but actors are created through Remote.Create, one per public constructor; add a public constructor"));

    // ---- close look-alikes that must stay silent ----

    [Fact]
    public Task Value_parameters_params_arrays_and_tokens_are_fine() => Verify.VerifyAsync("""
        public static partial class Jobs
        {
            [RayRemote]
            public static int Sum(params int[] values) => values.Length;

            [RayRemote]
            public static Task<string> Fetch(string key, CancellationToken ct) => Task.FromResult(key);

            // Not remote: by-ref and generic helpers may live next to remote functions.
            public static void Swap<T>(ref T a, ref T b) => (a, b) = (b, a);

            public static bool TryParse(string s, out int value) => int.TryParse(s, out value);
        }
        """);

    [Fact]
    public Task Actor_with_implicit_constructor_and_private_helpers_is_fine() => Verify.VerifyAsync("""
        [RayRemote(MaxConcurrency = 4)]
        public partial class Counter
        {
            private int _count;

            public int Increment() => Bump(ref _count);

            [RayRemote]
            public int Read() => _count;

            [RayMethod(NumReturns = 2)]
            public (int, int) Pair() => (_count, _count);

            private static int Bump(ref int value) => ++value;

            private T Cast<T>(object o) => (T)o;

            protected void Reset(out int old) { old = _count; _count = 0; }
        }
        """);

    [Fact]
    public Task Remote_functions_in_an_abstract_or_static_class_are_fine() => Verify.VerifyAsync("""
        public abstract partial class JobBase
        {
            [RayRemote]
            public static int Run(int n) => n;

            public abstract void Configure();
        }

        public static partial class Generic
        {
            // A generic method that is not remote, next to a non-generic remote one.
            public static T Identity<T>(T x) => x;

            [RayRemote]
            public static int Twice(int x) => 2 * x;
        }

        [RayRemote]
        public sealed partial class Worker
        {
            public Worker(string name) { }

            private Worker() { }

            public string Name() => "w";
        }
        """);

    [Fact]
    public Task Generic_class_without_RayRemote_is_not_an_actor() => Verify.VerifyAsync("""
        public partial class Cache<TValue>
        {
            public TValue Get(string key) => default!;
        }

        public abstract class Shape
        {
            public abstract double Area();
        }
        """);
}
