using Microsoft.CodeAnalysis.Testing;
using Xunit;

namespace RaySharp.Analyzers.Tests;

public class RemoteMethodBodyTests
{
    private static Task VerifyAsync(string source, params DiagnosticResult[] expected) =>
        RemoteStubs.VerifyAsync<RemoteMethodBodyAnalyzer>(source, expected);

    // ---- RAY101: raises ----

    [Fact]
    public Task Remote_function_returns_a_put_directly_and_through_a_local_in_a_tuple() => VerifyAsync("""
        public static partial class Data
        {
            [RayRemote]
            public static ObjectRef<int[]> Make(int n) => {|#0:Ray.Put(new int[n])|};

            [RayRemote]
            public static (ObjectRef<int>, int) Pair(int n)
            {
                var r = {|RAY101:Ray.Put(n * 2)|};
                return (r, n);
            }

            [RayRemote]
            public static async Task<ObjectRef<string>> Later(string s)
            {
                await Task.Yield();
                return {|RAY101:Ray.Put(s)|};
            }
        }
        """,
        new DiagnosticResult(DiagnosticDescriptors.RemoteMethodReturnsPut).WithLocation(0).WithMessage(
            "Remote method 'Data.Make' returns an ObjectRef created with Ray.Put: the worker becomes the owner of that object and the caller needs a second round trip to reach the value; return the value itself (NumReturns or a streaming method split large results)"));

    [Fact]
    public Task Actor_method_returns_a_collection_of_puts() => VerifyAsync("""
        [RayRemote]
        public partial class Store
        {
            public List<ObjectRef<byte[]>> Chunks(int n)
            {
                var list = new List<ObjectRef<byte[]>>();
                for (var i = 0; i < n; i++)
                {
                    list.Add({|#0:Ray.Put(new byte[1024])|});
                }

                return list;
            }

            public ObjectRef<int>[] Two(int a, int b) => [{|RAY101:Ray.Put(a)|}, {|RAY101:Ray.Put(b)|}];
        }
        """,
        new DiagnosticResult(DiagnosticDescriptors.RemoteMethodReturnsPut).WithLocation(0).WithArguments("Store.Chunks"));

    // ---- RAY101: silent ----

    [Fact]
    public Task Driver_helpers_may_return_puts() => VerifyAsync("""
        public static class Driver
        {
            public static ObjectRef<int[]> Share(int[] data) => Ray.Put(data);
        }

        [RayRemote]
        public partial class Store
        {
            private ObjectRef<int> Cached(int n) => Ray.Put(n);
            public int Read(int n) => Cached(n).Get();
        }
        """);

    [Fact]
    public Task A_put_passed_to_another_task_is_that_tasks_input() => VerifyAsync("""
        public static partial class Jobs
        {
            [RayRemote]
            public static ObjectRef<long> Chain(int[] values) => Tasks.Remote.Total(Ray.Put(values));

            [RayRemote]
            public static long Inline(int[] values)
            {
                var shared = Ray.Put(values);
                return Tasks.Remote.Total(shared).Get();
            }
        }
        """);

    [Fact]
    public Task Returns_inside_lambdas_do_not_return_from_the_remote_method() => VerifyAsync("""
        public static partial class Jobs
        {
            [RayRemote]
            public static int Compute(int n)
            {
                Func<ObjectRef<int>> make = () => Ray.Put(n);
                ObjectRef<int> Local() { return Ray.Put(n + 1); }
                return make().Get() + Local().Get();
            }
        }
        """);

    // ---- RAY102: raises ----

    [Fact]
    public Task Remote_function_gets_every_ref_of_an_array_or_list() => VerifyAsync("""
        using System.Linq;

        public static partial class Aggregate
        {
            [RayRemote]
            public static int Sum(ObjectRef<int>[] {|#0:parts|}) => Ray.Get(parts).Sum();

            [RayRemote]
            public static async Task<long> Total(List<ObjectRef<long>> {|RAY102:items|})
            {
                var values = await Ray.GetAsync(items);
                return values.Sum();
            }
        }
        """,
        new DiagnosticResult(DiagnosticDescriptors.GetOfTaskArguments).WithLocation(0).WithMessage(
            "Remote method 'Aggregate.Sum' takes refs in 'parts' only to get them all at once: take 'int' values instead and pass the refs as top-level arguments, which Ray resolves before the task starts"));

    [Fact]
    public Task Actor_method_gets_each_ref_in_a_foreach() => VerifyAsync("""
        [RayRemote]
        public partial class Merger
        {
            public int Merge(IReadOnlyList<ObjectRef<int>> {|#0:parts|})
            {
                var total = 0;
                foreach (var part in parts)
                {
                    total += part.Get();
                }

                return total;
            }
        }
        """,
        new DiagnosticResult(DiagnosticDescriptors.GetOfTaskArguments).WithLocation(0).WithArguments("Merger.Merge", "parts", "int"));

    // ---- RAY102: silent ----

    [Fact]
    public Task Refs_waited_on_or_passed_on_are_wanted_as_refs() => VerifyAsync("""
        public static partial class Aggregate
        {
            [RayRemote]
            public static int FirstReady(ObjectRef<int>[] parts)
            {
                var (ready, _) = Ray.Wait(parts, numReturns: 1);
                return Ray.Get(ready)[0];
            }

            [RayRemote]
            public static int Forward(List<ObjectRef<int>> parts)
            {
                foreach (var part in parts)
                {
                    Tasks.Remote.Square(part);
                }

                return Ray.Get(parts).Length;
            }
        }
        """);

    [Fact]
    public Task Driver_code_may_get_lists_of_refs() => VerifyAsync("""
        public static class Driver
        {
            public static int[] All(ObjectRef<int>[] parts) => Ray.Get(parts);
        }
        """);

    [Fact]
    public Task Single_refs_and_collections_of_values_are_not_reported() => VerifyAsync("""
        public static partial class Aggregate
        {
            [RayRemote]
            public static int One(ObjectRef<int> part) => part.Get();

            [RayRemote]
            public static int Values(int[] values) => values.Length;

            [RayRemote]
            public static int Some(ObjectRef<int>[] parts, int index) => parts[index].Get();
        }
        """);
}
