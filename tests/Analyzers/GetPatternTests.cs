using Microsoft.CodeAnalysis.Testing;
using RaySharp.Analyzers.CodeFixes;
using Xunit;

namespace RaySharp.Analyzers.Tests;

public class GetPatternTests
{
    private static Task VerifyAsync(string source, params DiagnosticResult[] expected) =>
        RemoteStubs.VerifyAsync<GetPatternAnalyzer>(source, expected);

    private static Task VerifyFixAsync(string source, string fixedSource, int iterations = 1) =>
        RemoteStubs.VerifyFixAsync<GetPatternAnalyzer, SubmitAllThenGetCodeFixProvider>(source, fixedSource, iterations);

    // ---- RAY103: raises ----

    [Fact]
    public Task Get_of_the_call_submitted_in_the_same_iteration() => VerifyAsync("""
        public static class Driver
        {
            public static long Run(int[] xs, int n)
            {
                long total = 0;
                foreach (var x in xs)
                {
                    total += {|#0:Tasks.Remote.Square(x).Get()|};
                }

                var results = new List<int>();
                for (var i = 0; i < n; i++)
                {
                    results.Add({|RAY103:Ray.Get(Tasks.Remote.Add(i, 1))|});
                }

                return total + results.Count;
            }
        }
        """,
        new DiagnosticResult(DiagnosticDescriptors.GetInLoop).WithLocation(0).WithMessage(
            "The result of 'Tasks.Square' is waited for in the same loop iteration that submits it, so the tasks run one at a time: submit them all first, then get the results with Ray.Get(list)"));

    [Fact]
    public Task Get_through_a_local_and_in_a_counting_while_loop() => VerifyAsync("""
        public static class Driver
        {
            public static int Run(ActorHandle<Counter> counter, int n)
            {
                for (var i = 0; i < n; i++)
                {
                    var r = counter.Add(i);
                    Console.WriteLine({|#0:r.Get()|});
                }

                var sum = 0;
                var j = 0;
                while (j < n)
                {
                    sum += {|RAY103:Tasks.Remote.Square(j).Get(TimeSpan.FromSeconds(5))|};
                    j++;
                }

                return sum;
            }
        }
        """,
        new DiagnosticResult(DiagnosticDescriptors.GetInLoop).WithLocation(0).WithArguments("Counter.Add"));

    // ---- RAY103: silent ----

    [Fact]
    public Task Submitting_all_first_then_getting_is_fine() => VerifyAsync("""
        public static class Driver
        {
            public static int Run(int n)
            {
                var refs = new List<ObjectRef<int>>();
                for (var i = 0; i < n; i++)
                {
                    refs.Add(Tasks.Remote.Square(i));
                }

                var total = 0;
                foreach (var r in refs)
                {
                    total += r.Get();
                }

                // RAY103 is satisfied; RAY106 still notes that n bounds nothing.
                return total + {|RAY106:Ray.Get(refs)|}.Length;
            }
        }
        """);

    [Fact]
    public Task A_loop_carried_dependency_cannot_run_in_parallel() => VerifyAsync("""
        public static class Driver
        {
            public static int Iterate(int x, int steps)
            {
                for (var i = 0; i < steps; i++)
                {
                    x = Tasks.Remote.Square(x).Get();
                }

                var state = 1;
                while (state < 1000)
                {
                    var next = Tasks.Remote.Add(state, 1);
                    state = next.Get() * 2;
                }

                return x + state;
            }
        }
        """);

    [Fact]
    public Task Refs_made_outside_the_loop_or_gets_in_lambdas_are_fine() => VerifyAsync("""
        public static class Driver
        {
            public static async Task<int> Run(int n)
            {
                var shared = Tasks.Remote.Square(7);
                var total = 0;
                var tasks = new List<Task<int>>();
                for (var i = 0; i < n; i++)
                {
                    total += shared.Get();
                    var k = i;
                    tasks.Add(Task.Run(() => Tasks.Remote.Square(k).Get()));
                    total += await Tasks.Remote.Square(i);
                }

                return total + (await Task.WhenAll(tasks)).Length;
            }
        }
        """);

    // ---- RAY103: code fix ----

    [Fact]
    public Task Fix_splits_a_foreach_into_submit_all_and_one_get() => VerifyFixAsync("""
        public static class Driver
        {
            public static long Run(int[] xs)
            {
                long total = 0;
                foreach (var x in xs)
                {
                    total += {|RAY103:Tasks.Remote.Square(x).Get()|};
                }

                return total;
            }
        }
        """, """
        public static class Driver
        {
            public static long Run(int[] xs)
            {
                long total = 0;
                var refs = new List<ObjectRef<int>>();
                foreach (var x in xs)
                {
                    refs.Add(Tasks.Remote.Square(x));
                }

                foreach (var value in {|RAY106:Ray.Get(refs)|})
                {
                    total += value;
                }

                return total;
            }
        }
        """);

    [Fact]
    public Task Fix_handles_a_ref_local_and_Ray_Get() => VerifyFixAsync("""
        public static class Driver
        {
            public static List<string> Run(int n)
            {
                var names = new List<string>();
                for (var i = 0; i < n; i++)
                {
                    var r = Tasks.Remote.Describe(i);
                    names.Add({|RAY103:Ray.Get(r)|});
                }

                return names;
            }
        }
        """, """
        public static class Driver
        {
            public static List<string> Run(int n)
            {
                var names = new List<string>();
                var refs = new List<ObjectRef<string>>();
                for (var i = 0; i < n; i++)
                {
                    refs.Add(Tasks.Remote.Describe(i));
                }

                foreach (var value in {|RAY106:Ray.Get(refs)|})
                {
                    names.Add(value);
                }

                return names;
            }
        }
        """);

    [Fact]
    public Task Fix_all_gives_each_loop_its_own_list() => VerifyFixAsync("""
        public static class Driver
        {
            public static int Run(int[] xs, int[] ys)
            {
                var total = 0;
                foreach (var x in xs)
                    total += {|RAY103:Tasks.Remote.Square(x).Get()|};
                foreach (var y in ys)
                    total -= {|RAY103:Tasks.Remote.Square(y).Get()|};
                return total;
            }
        }
        """, """
        public static class Driver
        {
            public static int Run(int[] xs, int[] ys)
            {
                var total = 0;
                var refs = new List<ObjectRef<int>>();
                foreach (var x in xs)
                    refs.Add(Tasks.Remote.Square(x));
                foreach (var value in {|RAY106:Ray.Get(refs)|})
                    total += value;
                var refs2 = new List<ObjectRef<int>>();
                foreach (var y in ys)
                    refs2.Add(Tasks.Remote.Square(y));
                foreach (var value in {|RAY106:Ray.Get(refs2)|})
                    total -= value;
                return total;
            }
        }
        """, iterations: 2);

    [Fact]
    public Task No_fix_when_the_rewrite_could_change_behaviour()
    {
        // The consumer uses the iteration variable; a per-value timeout; a consumer that leaves the loop.
        const string Source = """
            public static class Driver
            {
                public static int Run(int[] xs)
                {
                    foreach (var x in xs)
                    {
                        Console.WriteLine($"{x}: {{|RAY103:Tasks.Remote.Square(x).Get()|}}");
                    }

                    var total = 0;
                    foreach (var x in xs)
                    {
                        total += {|RAY103:Tasks.Remote.Square(x).Get(TimeSpan.FromSeconds(1))|};
                    }

                    foreach (var x in xs)
                    {
                        if ({|RAY103:RaySharp.Ray.Get(Tasks.Remote.Square(x))|} > 100) return x;
                    }

                    return total;
                }
            }
            """;
        return VerifyFixAsync(Source, Source, iterations: 0);
    }

    // ---- RAY104: raises ----

    [Fact]
    public Task Value_fetched_only_to_pass_it_to_a_remote_call() => VerifyAsync("""
        public static class Driver
        {
            public static ObjectRef<int> Run()
            {
                var a = Tasks.Remote.Square(3);
                var b = Tasks.Remote.Square({|#0:a.Get()|});
                var v = {|#1:Ray.Get(b)|};
                return Tasks.Remote.Add(v, v);
            }
        }
        """,
        new DiagnosticResult(DiagnosticDescriptors.UnnecessaryGet).WithLocation(0).WithMessage(
            "The value of 'a' is fetched only to be passed to remote method 'Tasks.Square': pass the ObjectRef itself, and Ray hands the value to the task without a round trip through this process"),
        new DiagnosticResult(DiagnosticDescriptors.UnnecessaryGet).WithLocation(1).WithArguments("b", "Tasks.Add"));

    [Fact]
    public Task Awaited_value_passed_to_an_actor() => VerifyAsync("""
        public static class Driver
        {
            public static async Task<int> Run(ActorHandle<Counter> counter, ObjectRef<int> delta)
            {
                var d = {|#0:await delta|};
                return await counter.Add(d);
            }
        }
        """,
        new DiagnosticResult(DiagnosticDescriptors.UnnecessaryGet).WithLocation(0).WithArguments("delta", "Counter.Add"));

    // ---- RAY104: silent ----

    [Fact]
    public Task Values_used_here_as_well_are_fine() => VerifyAsync("""
        public static class Driver
        {
            public static void Run(ObjectRef<int> r)
            {
                var v = r.Get();
                Console.WriteLine(v);
                Tasks.Remote.Square(v);
            }
        }
        """);

    [Fact]
    public Task Transformed_values_and_local_calls_are_fine() => VerifyAsync("""
        public static class Driver
        {
            public static int Run(ObjectRef<int> r)
            {
                Tasks.Remote.Square(r.Get() + 1);
                return Math.Abs(r.Get());
            }
        }
        """);

    [Fact]
    public Task A_value_of_another_type_cannot_be_passed_as_the_ref() => VerifyAsync("""
        public static class Driver
        {
            public static void Run(ObjectRef<short> s)
            {
                Tasks.Remote.Square(s.Get());
            }
        }
        """);

    // ---- RAY105: raises ----

    [Fact]
    public Task Processing_refs_in_submission_order() => VerifyAsync("""
        public static class Driver
        {
            public static void Run(string[] paths)
            {
                var refs = new List<ObjectRef<byte[]>>();
                foreach (var path in paths)
                {
                    refs.Add(Tasks.Remote.Load(path));
                }

                foreach (var r in refs)
                {
                    var data = {|#0:r.Get()|};
                    Save(data);
                }
            }

            private static void Save(byte[] data) { }
        }
        """,
        new DiagnosticResult(DiagnosticDescriptors.SubmissionOrder).WithLocation(0).WithMessage(
            "The refs in 'refs' are fetched and processed in submission order, so each result waits for every earlier task even if it finished first: process them as they complete with a Ray.Wait loop"));

    [Fact]
    public Task Processing_refs_from_a_linq_submission() => VerifyAsync("""
        using System.Linq;

        public static class Driver
        {
            public static async Task Run(int[] ids)
            {
                var pending = ids.Select(i => Tasks.Remote.Describe(i)).ToArray();
                foreach (var r in pending)
                {
                    Console.WriteLine({|RAY105:Ray.Get(r)|});
                }

                foreach (var r in pending)
                {
                    await File.AppendAllTextAsync("log.txt", {|RAY105:await r|});
                }
            }
        }
        """);

    // ---- RAY105: silent ----

    [Fact]
    public Task Accumulating_without_processing_is_fine() => VerifyAsync("""
        public static class Driver
        {
            public static int Run(int n)
            {
                var refs = new List<ObjectRef<int>>();
                for (var i = 0; i < n; i++) refs.Add(Tasks.Remote.Square(i));
                var total = 0;
                foreach (var r in refs) total += r.Get();
                var values = new List<int>();
                foreach (var r in refs) values.Add(r.Get());
                return total + values.Count;
            }
        }
        """);

    [Fact]
    public Task Refs_from_elsewhere_or_from_puts_are_not_known_submissions() => VerifyAsync("""
        public static class Driver
        {
            public static void Run(List<ObjectRef<int>> given, int[] values)
            {
                foreach (var r in given) Console.WriteLine(r.Get());

                var puts = new List<ObjectRef<int>>();
                foreach (var v in values) puts.Add(Ray.Put(v));
                foreach (var r in puts) Console.WriteLine(r.Get());
            }
        }
        """);

    [Fact]
    public Task A_wait_loop_processes_in_completion_order() => VerifyAsync("""
        public static class Driver
        {
            public static void Run(int n)
            {
                var pending = new List<ObjectRef<int>>();
                for (var i = 0; i < n; i++) pending.Add(Tasks.Remote.Square(i));
                while (pending.Count > 0)
                {
                    var (ready, rest) = Ray.Wait(pending, numReturns: 1);
                    foreach (var r in ready) Console.WriteLine(r.Get());
                    pending = new List<ObjectRef<int>>(rest);
                }
            }
        }
        """);

    // ---- RAY106: raises ----

    [Fact]
    public Task Get_of_a_list_filled_while_reading_input() => VerifyAsync("""
        public static class Driver
        {
            public static string[] Run(TextReader reader)
            {
                var refs = new List<ObjectRef<string>>();
                while (reader.ReadLine() is { } line)
                {
                    refs.Add(Tasks.Remote.Describe(line.Length));
                }

                return {|#0:Ray.Get(refs)|};
            }
        }
        """,
        new DiagnosticResult(DiagnosticDescriptors.GetTooMany).WithLocation(0).WithMessage(
            "Ray.Get fetches every object of 'refs' at once, and 'refs' grows in a loop that no constant bounds: fetch in batches with Ray.Wait(refs, numReturns: N) so this process's memory stays bounded"));

    [Fact]
    public Task GetAsync_of_a_list_filled_from_a_lazy_sequence() => VerifyAsync("""
        public static class Driver
        {
            public static async Task<byte[][]> Run(string directory)
            {
                var chunks = new List<ObjectRef<byte[]>>();
                foreach (var file in Directory.EnumerateFiles(directory))
                {
                    chunks.Add(Tasks.Remote.Load(file));
                }

                return await {|RAY106:Ray.GetAsync(chunks)|};
            }
        }
        """);

    [Fact]
    public Task Get_of_a_list_filled_up_to_a_parameter() => VerifyAsync("""
        public static class Driver
        {
            public static int Run(int n)
            {
                var items = new List<ObjectRef<int>>();
                for (int i = 0; i < n; i++)
                {
                    items.Add(Tasks.Remote.Square(i));
                }

                return {|#0:Ray.Get(items)|}.Length;
            }
        }
        """,
        new DiagnosticResult(DiagnosticDescriptors.GetTooMany).WithLocation(0).WithMessage(
            "Ray.Get fetches every object of 'items' at once, and 'items' grows in a loop that no constant bounds: fetch in batches with Ray.Wait(items, numReturns: N) so this process's memory stays bounded"));

    [Fact]
    public Task Get_of_a_list_filled_up_to_a_bound_known_only_at_run_time() => VerifyAsync("""
        public static class Driver
        {
            private static int batches = 8;

            private static int Count() => 3;

            public static int Run(List<string> items, string[] paths, int n)
            {
                var perItem = new List<ObjectRef<int>>();
                var i = 0;
                while (i < items.Count) { perItem.Add(Tasks.Remote.Square(items[i].Length)); i++; }
                var perPath = new List<ObjectRef<byte[]>>();
                for (var p = 0; p < paths.Length; p++) perPath.Add(Tasks.Remote.Load(paths[p]));
                var loads = new List<ObjectRef<byte[]>>();
                foreach (var path in paths) loads.Add(Tasks.Remote.Load(path));
                var perBatch = new List<ObjectRef<int>>();
                for (var b = 0; b < batches; b++) perBatch.Add(Tasks.Remote.Square(b));
                var counted = new List<ObjectRef<int>>();
                for (var c = 0; c < Count(); c++) counted.Add(Tasks.Remote.Square(c));
                var down = new List<ObjectRef<int>>();
                for (var d = n; d > 0; d--) down.Add(Tasks.Remote.Square(d));
                var nested = new List<ObjectRef<int>>();
                foreach (var item in items)
                {
                    for (var k = 0; k < 3; k++) nested.Add(Tasks.Remote.Square(item.Length + k));
                }

                return {|RAY106:Ray.Get(perItem)|}.Length + {|RAY106:Ray.Get(perPath)|}.Length + {|RAY106:Ray.Get(loads)|}.Length +
                    {|RAY106:Ray.Get(perBatch)|}.Length + {|RAY106:Ray.Get(counted)|}.Length + {|RAY106:Ray.Get(down)|}.Length +
                    {|RAY106:Ray.Get(nested)|}.Length;
            }
        }
        """);

    // ---- RAY106: silent ----

    [Fact]
    public Task Lists_filled_up_to_a_constant_are_fine() => VerifyAsync("""
        public static class Driver
        {
            private const int Partitions = 16;

            public static int Run(bool stop)
            {
                const int N = 500;
                var refs = new List<ObjectRef<int>>();
                for (int i = 0; i < 100; i++) refs.Add(Tasks.Remote.Square(i));
                var named = new List<ObjectRef<int>>();
                for (var i = 0; i < N; i++) named.Add(Tasks.Remote.Square(i));
                var counted = new List<ObjectRef<int>>();
                var j = 0;
                while (j < Partitions && !stop) { counted.Add(Tasks.Remote.Square(j)); j++; }
                var down = new List<ObjectRef<int>>();
                for (var k = N; 0 < k; k -= 2) down.Add(Tasks.Remote.Square(k));
                var literal = new List<ObjectRef<byte[]>>();
                var paths = new[] { "a", "b", "c" };
                foreach (var path in paths) literal.Add(Tasks.Remote.Load(path));
                for (var p = 0; p < paths.Length; p++) literal.Add(Tasks.Remote.Load(paths[p]));
                var ranged = new List<ObjectRef<int>>();
                foreach (var x in System.Linq.Enumerable.Range(0, N)) ranged.Add(Tasks.Remote.Square(x));
                return Ray.Get(refs).Length + Ray.Get(named).Length + Ray.Get(counted).Length + Ray.Get(down).Length +
                    Ray.Get(literal).Length + Ray.Get(ranged).Length;
            }
        }
        """);

    [Fact]
    public Task A_get_inside_the_unbounded_loop_is_per_iteration() => VerifyAsync("""
        public static class Driver
        {
            public static int Run(TextReader reader)
            {
                var total = 0;
                while (reader.ReadLine() is { } line)
                {
                    var refs = new List<ObjectRef<int>>();
                    for (var i = 0; i < 10; i++) refs.Add(Tasks.Remote.Square(line.Length + i));
                    total += Ray.Get(refs).Length;
                }

                return total;
            }
        }
        """);

    [Fact]
    public Task Batched_gets_are_fine() => VerifyAsync("""
        public static class Driver
        {
            public static long Run(TextReader reader)
            {
                long total = 0;
                var batch = new List<ObjectRef<int>>();
                while (reader.ReadLine() is { } line)
                {
                    batch.Add(Tasks.Remote.Square(line.Length));
                    if (batch.Count == 100)
                    {
                        foreach (var v in Ray.Get(batch)) total += v;
                        batch.Clear();
                    }
                }

                foreach (var v in Ray.Get(batch)) total += v;
                return total;
            }
        }
        """);

    [Fact]
    public Task Lists_drained_with_wait_are_fine() => VerifyAsync("""
        public static class Driver
        {
            public static int Run(TextReader reader)
            {
                var refs = new List<ObjectRef<int>>();
                while (reader.ReadLine() is { } line) refs.Add(Tasks.Remote.Square(line.Length));
                var (ready, _) = Ray.Wait(refs, numReturns: refs.Count);
                return Ray.Get(ready).Length;
            }
        }
        """);
}
