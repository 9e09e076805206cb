using RaySharp.Analyzers.CodeFixes;
using RaySharp.Analyzers.Tests.Verifiers;
using Microsoft.CodeAnalysis.Testing;
using Xunit;
using Verify = RaySharp.Analyzers.Tests.Verifiers.AnalyzerVerifier<RaySharp.Analyzers.WireTypeAnalyzer>;
using VerifyFix = RaySharp.Analyzers.Tests.Verifiers.CodeFixVerifier<RaySharp.Analyzers.WireTypeAnalyzer, RaySharp.Analyzers.CodeFixes.MemoryPackableCodeFixProvider>;

namespace RaySharp.Analyzers.Tests;

public class WireTypeTests
{
    // ---- raises RAY002 ----

    [Fact]
    public Task Stream_parameter() => Verify.VerifyAsync("""
        public static partial class Files
        {
            [RayRemote]
            public static long Size({|#0:Stream|} data) => data.Length;
        }
        """,
        Verify.Diagnostic("RAY002").WithLocation(0).WithMessage(
            "Parameter 'data' of remote method 'Files.Size' has type 'Stream', which cannot cross the wire: MemoryPack has no formatter for 'Stream'; use a primitive, string, array, collection, tuple or [MemoryPackable] type that carries the data"));

    [Fact]
    public Task User_class_without_MemoryPackable_as_result() => Verify.VerifyAsync("""
        public class Point
        {
            public int X { get; set; }
            public int Y { get; set; }
        }

        public static partial class Geometry
        {
            [RayRemote]
            public static async {|#0:Task<Point>|} Origin() { await Task.Yield(); return new Point(); }
        }
        """,
        Verify.Diagnostic("RAY002").WithLocation(0).WithMessage(
            "The result of remote method 'Geometry.Origin' has type 'Point', which cannot cross the wire: 'Point' is not [MemoryPackable]; mark it [MemoryPackable] and partial"));

    [Fact]
    public Task Unsupported_type_nested_in_a_collection_is_named() => Verify.VerifyAsync("""
        public static partial class Files
        {
            [RayRemote]
            public static int Count({|#0:Dictionary<string, List<Stream>>|} files) => files.Count;
        }
        """,
        Verify.Diagnostic("RAY002").WithLocation(0).WithMessage(
            "Parameter 'files' of remote method 'Files.Count' has type 'Dictionary<string, List<Stream>>', which cannot cross the wire: MemoryPack has no formatter for 'Stream'; use a primitive, string, array, collection, tuple or [MemoryPackable] type that carries the data"));

    [Fact]
    public Task Object_task_and_delegate_parameters() => Verify.VerifyAsync("""
        public static partial class Jobs
        {
            [RayRemote]
            public static int A({|RAY002:object|} value) => 0;

            [RayRemote]
            public static int B({|RAY002:Task<int>|} pending) => 0;

            [RayRemote]
            public static int C({|RAY002:Func<int, int>|} map) => map(1);

            [RayRemote]
            public static int D({|RAY002:List<CancellationToken>|} tokens) => tokens.Count;

            [RayRemote]
            public static int E({|RAY002:ObjectRef<object>|} boxed) => 0;
        }
        """);

    [Fact]
    public Task Actor_constructor_method_and_stream_items() => Verify.VerifyAsync("""
        public interface IShape { double Area(); }

        public class Settings { public string Name { get; set; } = ""; }

        [RayRemote]
        public partial class Canvas
        {
            public Canvas({|RAY002:Settings|} settings) { }

            public double Add({|RAY002:IShape|} shape) => shape.Area();

            public async {|RAY002:IAsyncEnumerable<Stream>|} Tiles()
            {
                await Task.Yield();
                yield return new MemoryStream();
            }

            public {|RAY002:CancellationToken|} Token() => default;
        }
        """);

    [Fact]
    public Task Object_view_returned_or_nested() => Verify.VerifyAsync("""
        public static partial class Vectors
        {
            [RayRemote]
            public static {|#0:ObjectView<float>|} Echo(ObjectView<float> data) => data;

            [RayRemote]
            public static int Count({|RAY002:List<ObjectView<int>>|} views) => views.Count;

            [RayRemote]
            public static int Maybe({|RAY002:ObjectRef<ObjectView<int>>|} view) => 0;
        }
        """,
        Verify.Diagnostic("RAY002").WithLocation(0).WithMessage(
            "The result of remote method 'Vectors.Echo' has type 'ObjectView<float>', which cannot cross the wire: 'ObjectView<float>' is a view of an object that lives only while the method that received it runs; take it as a top-level parameter, and send or return the elements as an array ('view.Span.ToArray()')"));

    // ---- close look-alikes that must stay silent ----

    [Fact]
    public Task Object_view_parameters_are_supported() => Verify.VerifyAsync("""
        public struct Pixel { public byte R, G, B; }

        public static partial class Vectors
        {
            [RayRemote]
            public static double Sum(ObjectView<float> data, ObjectView<Pixel> image, CancellationToken ct) => 0;

            [RayRemote]
            public static async Task<float[]> Scale(ObjectView<float> data, float factor)
            {
                await Task.Yield();
                return data.Span.ToArray();
            }
        }

        [RayRemote]
        public partial class Model
        {
            public Model(ObjectView<double> weights) { }

            public long Size(ObjectView<long> input) => input.Length;
        }
        """);

    [Fact]
    public Task Primitives_collections_tuples_and_refs_are_supported() => Verify.VerifyAsync("""
        public enum Color { Red, Green }

        [RayRemote]
        public partial class Counter
        {
            public int Increment() => 1;
        }

        public static partial class Jobs
        {
            [RayRemote]
            public static async Task<Dictionary<string, int[]>> Everything(
                int a, long b, double c, decimal d, bool e, char f, string g, byte[] h, int[,] i,
                List<int> j, Dictionary<string, long> k, (int Count, string Name) l, HashSet<Guid> m,
                IReadOnlyList<DateTime> n, IReadOnlyDictionary<string, TimeSpan> o, IEnumerable<DateTimeOffset> p,
                Color q, int? r, ObjectRef<int> s, ActorHandle<Counter> t, List<ObjectRef<string>> u,
                ObjectRef v, Version w, Uri x, KeyValuePair<int, string> y, Memory<byte> z,
                CancellationToken ct)
            {
                await Task.Yield();
                return new();
            }

            [RayRemote]
            public static ValueTask<(int, string, List<double>)> Tuple() => default;

            [RayRemote]
            public static Task Nothing() => Task.CompletedTask;

            [RayRemote]
            public static void Void(string s) { }
        }
        """);

    [Fact]
    public Task MemoryPackable_types_and_unmanaged_structs_are_supported() => Verify.VerifyAsync("""
        [MemoryPackable]
        public partial class Order
        {
            public int Id { get; set; }
            public List<string> Items { get; set; } = new();
        }

        [MemoryPackable]
        public partial record Box<T>(T Value);

        public struct Pixel
        {
            public byte R, G, B;
        }

        public static partial class Shop
        {
            [RayRemote]
            public static Order Place(Order order, Pixel[] pixels, Box<int> box) => order;

            [RayRemote]
            public static async IAsyncEnumerable<Order> Stream(int n)
            {
                for (var i = 0; i < n; i++)
                {
                    await Task.Yield();
                    yield return new Order { Id = i };
                }
            }
        }
        """);

    [Fact]
    public Task Members_that_are_not_remote_may_use_any_type() => Verify.VerifyAsync("""
        public static partial class Files
        {
            [RayRemote]
            public static long Size(byte[] data) => data.Length;

            public static long Size(Stream data) => data.Length;
        }

        [RayRemote]
        public partial class Store
        {
            public Store() { }

            private Store(Stream source) { }

            public int Count() => 0;

            internal void Load(Stream source) { }

            private static object Helper(object o) => o;

            public override bool Equals(object? obj) => ReferenceEquals(this, obj);

            public override int GetHashCode() => 0;
        }
        """);

    [Fact]
    public Task Instance_method_of_a_non_actor_is_left_to_RAY003() => Verify.VerifyAsync("""
        public partial class Files
        {
            [RayRemote]
            public long Size(Stream data) => data.Length;
        }
        """);

    // ---- code fix ----

    [Fact]
    public Task Fix_marks_class_MemoryPackable_and_partial() => VerifyFix.VerifyAsync("""
        namespace Shop
        {
            /// <summary>An order.</summary>
            public sealed class Order
            {
                public int Id { get; set; }
            }

            public static partial class Orders
            {
                [RayRemote]
                public static int Total({|RAY002:Order|} order) => order.Id;
            }
        }
        """, """
        namespace Shop
        {
            /// <summary>An order.</summary>
            [MemoryPack.MemoryPackable]
            public sealed partial class Order
            {
                public int Id { get; set; }
            }

            public static partial class Orders
            {
                [RayRemote]
                public static int Total(Order order) => order.Id;
            }
        }
        """);

    [Fact]
    public Task Fix_handles_records_structs_and_containing_types() => VerifyFix.VerifyAsync("""
        public class Models
        {
            [Serializable]
            public record Line(string Text);

            public struct Tagged
            {
                public string Tag;
            }
        }

        public static partial class Jobs
        {
            [RayRemote]
            public static int Length({|RAY002:Models.Line|} line) => line.Text.Length;

            [RayRemote]
            public static {|RAY002:List<Models.Tagged>|} Tags() => new();
        }
        """, """
        public partial class Models
        {
            [MemoryPack.MemoryPackable]
            [Serializable]
            public partial record Line(string Text);

            [MemoryPack.MemoryPackable]
            public partial struct Tagged
            {
                public string Tag;
            }
        }

        public static partial class Jobs
        {
            [RayRemote]
            public static int Length(Models.Line line) => line.Text.Length;

            [RayRemote]
            public static List<Models.Tagged> Tags() => new();
        }
        """);

    [Fact]
    public async Task Fix_all_marks_each_type_once_across_documents()
    {
        var test = new CodeFixVerifier<WireTypeAnalyzer, MemoryPackableCodeFixProvider>.Test();
        test.TestState.Sources.Add(("Models.cs", """
            public class Point
            {
                public int X;
                public string Label = "";
            }

            public class Polygon
            {
                public Point[] Corners = [];
            }
            """));
        test.TestState.Sources.Add(("Jobs.cs", """
            public static partial class Geometry
            {
                [RayRemote]
                public static int Count({|RAY002:Polygon|} polygon) => polygon.Corners.Length;

                [RayRemote]
                public static {|RAY002:Point|} First({|RAY002:Polygon|} polygon) => polygon.Corners[0];

                [RayRemote]
                public static long Size({|RAY002:Stream|} data) => data.Length;
            }
            """));
        test.FixedState.Sources.Add(("Models.cs", """
            [MemoryPack.MemoryPackable]
            public partial class Point
            {
                public int X;
                public string Label = "";
            }

            [MemoryPack.MemoryPackable]
            public partial class Polygon
            {
                public Point[] Corners = [];
            }
            """));
        test.FixedState.Sources.Add(("Jobs.cs", """
            public static partial class Geometry
            {
                [RayRemote]
                public static int Count(Polygon polygon) => polygon.Corners.Length;

                [RayRemote]
                public static Point First(Polygon polygon) => polygon.Corners[0];

                [RayRemote]
                public static long Size({|RAY002:Stream|} data) => data.Length;
            }
            """));

        // The Stream diagnostic has no fix and survives; the markup in the fixed sources says so.
        test.FixedState.MarkupHandling = MarkupMode.Allow;
        await test.RunAsync();
    }

    [Fact]
    public Task No_fix_is_offered_for_types_outside_the_source()
    {
        const string source = """
            public static partial class Files
            {
                [RayRemote]
                public static long Size({|RAY002:Stream|} data) => data.Length;
            }
            """;
        return VerifyFix.VerifyAsync(source, source);
    }
}
