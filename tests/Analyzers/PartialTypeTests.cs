using Microsoft.CodeAnalysis.Testing;
using RaySharp.Analyzers.CodeFixes;
using RaySharp.Analyzers.Tests.Verifiers;
using Xunit;
using Verify = RaySharp.Analyzers.Tests.Verifiers.AnalyzerVerifier<RaySharp.Analyzers.PartialTypeAnalyzer>;
using VerifyFix = RaySharp.Analyzers.Tests.Verifiers.CodeFixVerifier<RaySharp.Analyzers.PartialTypeAnalyzer, RaySharp.Analyzers.CodeFixes.MakePartialCodeFixProvider>;

namespace RaySharp.Analyzers.Tests;

public class PartialTypeTests
{
    // ---- raises RAY001 ----

    [Fact]
    public Task Static_class_with_remote_function_is_not_partial() => Verify.VerifyAsync("""
        namespace MyApp;

        public static class {|#0:MathTasks|}
        {
            [RayRemote]
            public static int Add(int a, int b) => a + b;
        }
        """,
        Verify.Diagnostic("RAY001").WithLocation(0).WithMessage(
            "'MathTasks' declares [RayRemote] members, so the RaySharp generator has to add code to it: add 'partial' to 'MathTasks'"));

    [Fact]
    public Task Actor_class_is_not_partial() => Verify.VerifyAsync("""
        [RayRemote(MaxRestarts = 2)]
        public class {|RAY001:Counter|}
        {
            private int _count;
            public Counter(int start) => _count = start;
            public int Increment() => ++_count;
        }
        """);

    [Fact]
    public Task Containing_type_is_not_partial() => Verify.VerifyAsync("""
        public class Outer
        {
            public static partial class {|#0:Jobs|}
            {
                [RayRemote]
                public static string Echo(string s) => s;
            }
        }
        """,
        Verify.Diagnostic("RAY001").WithLocation(0).WithMessage(
            "'Outer.Jobs' declares [RayRemote] members, so the RaySharp generator has to add code to it: add 'partial' to 'Outer'"));

    [Fact]
    public Task Neither_type_nor_container_is_partial() => Verify.VerifyAsync("""
        public class Outer
        {
            [RayRemote]
            public class {|#0:Worker|}
            {
                public int Ping() => 1;
            }
        }
        """,
        Verify.Diagnostic("RAY001").WithLocation(0).WithMessage(
            "'Outer.Worker' declares [RayRemote] members, so the RaySharp generator has to add code to it: add 'partial' to 'Outer' and 'Outer.Worker'"));

    [Fact]
    public Task Every_declaration_of_the_type_must_be_partial() => Verify.VerifyAsync("""
        [RayRemote]
        public partial class Counter
        {
            public int Increment() => 1;
        }

        public class {|#0:Counter|}
        {
            public int Decrement() => -1;
        }
        """,
        // The compiler's own CS0260 points at the same declaration; RAY001 says why it matters here.
        DiagnosticResult.CompilerError("CS0260").WithLocation(0).WithArguments("Counter"),
        Verify.Diagnostic("RAY001").WithLocation(0).WithMessage(
            "'Counter' declares [RayRemote] members, so the RaySharp generator has to add code to it: add 'partial' to 'Counter'"));

    // ---- close look-alikes that must stay silent ----

    [Fact]
    public Task Partial_static_class_is_fine() => Verify.VerifyAsync("""
        public static partial class MathTasks
        {
            [RayRemote]
            public static int Add(int a, int b) => a + b;
        }
        """);

    [Fact]
    public Task Class_without_remote_members_need_not_be_partial() => Verify.VerifyAsync("""
        public static class Helpers
        {
            [Obsolete]
            public static int Add(int a, int b) => a + b;
        }

        public class Counter
        {
            [RayMethod(NumReturns = 2)]
            public (int, int) Pair() => (1, 2);
        }
        """);

    [Fact]
    public Task Partial_in_one_part_is_enough_and_nested_partials_are_fine() => Verify.VerifyAsync("""
        [RayRemote]
        public partial class Counter
        {
            public int Increment() => 1;
        }

        public partial class Counter
        {
            public int Decrement() => -1;
        }

        public partial class Outer
        {
            public static partial class Jobs
            {
                [RayRemote]
                public static int Run() => 0;
            }
        }
        """);

    [Fact]
    public Task An_attribute_named_RayRemote_from_another_namespace_is_not_RaySharp() => Verify.VerifyAsync("""
        namespace Other
        {
            [AttributeUsage(AttributeTargets.All)]
            public sealed class RayRemoteAttribute : Attribute { }

            public static class Jobs
            {
                [Other.RayRemote]
                public static int Run() => 0;
            }
        }
        """);

    // ---- code fix ----

    [Fact]
    public Task Fix_adds_partial_after_existing_modifiers() => VerifyFix.VerifyAsync("""
        public static class {|RAY001:MathTasks|}
        {
            [RayRemote]
            public static int Add(int a, int b) => a + b;
        }
        """, """
        public static partial class MathTasks
        {
            [RayRemote]
            public static int Add(int a, int b) => a + b;
        }
        """);

    [Fact]
    public Task Fix_keeps_comments_when_there_are_no_modifiers() => VerifyFix.VerifyAsync("""
        // Counts things.
        [RayRemote]
        class {|RAY001:Counter|}
        {
            public int Increment() => 1;
        }
        """, """
        // Counts things.
        [RayRemote]
        partial class Counter
        {
            public int Increment() => 1;
        }
        """);

    [Fact]
    public Task Fix_makes_every_containing_type_partial() => VerifyFix.VerifyAsync("""
        namespace MyApp
        {
            /// <summary>Outer.</summary>
            internal sealed class Outer
            {
                public partial class Middle
                {
                    private static class {|RAY001:Jobs|}
                    {
                        [RayRemote]
                        public static int Run() => 0;
                    }
                }
            }
        }
        """, """
        namespace MyApp
        {
            /// <summary>Outer.</summary>
            internal sealed partial class Outer
            {
                public partial class Middle
                {
                    private static partial class Jobs
                    {
                        [RayRemote]
                        public static int Run() => 0;
                    }
                }
            }
        }
        """);

    [Fact]
    public async Task Fix_all_fixes_every_type_in_every_document()
    {
        var test = new CodeFixVerifier<PartialTypeAnalyzer, MakePartialCodeFixProvider>.Test();
        test.TestState.Sources.Add(("Tasks.cs", """
            public class Outer
            {
                public static class {|RAY001:A|}
                {
                    [RayRemote] public static int One() => 1;
                }

                public static class {|RAY001:B|}
                {
                    [RayRemote] public static int Two() => 2;
                }
            }
            """));
        test.TestState.Sources.Add(("Actors.cs", """
            [RayRemote]
            public class {|RAY001:Counter|}
            {
                public int Increment() => 1;
            }
            """));
        test.FixedState.Sources.Add(("Tasks.cs", """
            public partial class Outer
            {
                public static partial class A
                {
                    [RayRemote] public static int One() => 1;
                }

                public static partial class B
                {
                    [RayRemote] public static int Two() => 2;
                }
            }
            """));
        test.FixedState.Sources.Add(("Actors.cs", """
            [RayRemote]
            public partial class Counter
            {
                public int Increment() => 1;
            }
            """));
        await test.RunAsync();
    }
}
