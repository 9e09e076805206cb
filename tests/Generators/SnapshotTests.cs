namespace RaySharp.Generators.Tests;

/// <summary>
/// The generated code for every supported shape, compared with checked-in snapshots and compiled together with the
/// user code against the real runtime: no error, no warning.
/// </summary>
public sealed class SnapshotTests
{
    private static void VerifyGenerated(string testName, params string[] sources)
    {
        var (result, output) = GeneratorHarness.Run(sources);
        Assert.NotEmpty(result.GeneratedTrees);
        GeneratorHarness.AssertCompilesCleanly(output);
        Snapshot.Verify(testName, result);
    }

    [Fact]
    public void StaticTaskClass() => VerifyGenerated(nameof(StaticTaskClass), """
        using System.Collections.Generic;
        using System.Threading;
        using System.Threading.Tasks;
        using RaySharp;

        namespace MyApp;

        public static partial class MathTasks
        {
            [RayRemote(NumCpus = 0.5, MaxRetries = 5)]
            public static int Add(int a, int b) => a + b;

            [RayRemote]
            public static double Add(double a, double b) => a + b;

            [RayRemote(NumCpus = 2, NumGpus = 1, Memory = 4294967296, Resources = new[] { "accel=0.25", "malformed", "=3", "disk = 2" }, RetryExceptions = true, EnableTaskEvents = false)]
            public static async Task<byte[]> Fetch(string key, CancellationToken ct)
            {
                await Task.Delay(1, ct);
                return System.Text.Encoding.UTF8.GetBytes(key);
            }

            [RayRemote(NumReturns = 2)]
            public static (int Sum, string Text) Both(int a, int b) => (a + b, $"{a}+{b}");

            [RayRemote(NumReturns = 3)]
            public static async ValueTask<(int, string, double)> Three(int a)
            {
                await Task.Yield();
                return (a, "x", 1.5);
            }

            [RayRemote]
            public static (int, int) PairAsOne(int a) => (a, a);

            [RayRemote]
            public static async IAsyncEnumerable<int> Produce(int n)
            {
                for (int i = 0; i < n; i++)
                {
                    await Task.Yield();
                    yield return i;
                }
            }

            [RayRemote]
            public static void Log(string? message) { }

            [RayRemote]
            public static Task Flush(CancellationToken ct) => Task.CompletedTask;

            [RayRemote]
            public static ValueTask Ping() => default;

            [RayRemote]
            public static ValueTask<long> Measure(List<int> values) => new(values.Count);

            [RayRemote(Name = "sum_refs")]
            public static int SumRefs(ObjectRef<int>[] refs, List<ObjectRef<int>> more, int bias) => bias;

            [RayRemote]
            public static int UseActor(ActorHandle<Counter> counter) => 0;

            [RayRemote]
            internal static Dictionary<string, int> Count(string[] words, int call, string @event) => new();
        }

        [RayRemote]
        public partial class Counter
        {
        }
        """);

    [Fact]
    public void ActorClass() => VerifyGenerated(nameof(ActorClass), """
        using System;
        using System.Collections.Generic;
        using System.Threading;
        using System.Threading.Tasks;
        using RaySharp;

        namespace MyApp;

        [RayRemote(MaxRestarts = 2, MaxTaskRetries = 1, NumCpus = 1, MaxConcurrency = 4, Resources = new[] { "slot=1" }, EnableTaskEvents = false)]
        public partial class Counter : IDisposable
        {
            private int _count;

            public Counter(int start) => _count = start;

            public Counter(int start, string label) => _count = start + label.Length;

            private Counter() { }

            public int Count => _count;

            public int Increment() => ++_count;

            public async Task<int> SlowRead()
            {
                await Task.Delay(10);
                return _count;
            }

            public void Reset() => _count = 0;

            public Task SaveAsync(string path, CancellationToken ct) => Task.CompletedTask;

            public ValueTask<string> Describe() => new(_count.ToString());

            [RayMethod(NumReturns = 2)]
            public (int Before, int After) Swap(int value)
            {
                var before = _count;
                _count = value;
                return (before, _count);
            }

            [RayMethod(Name = "read", MaxTaskRetries = 3, RetryExceptions = true)]
            public int Read() => _count;

            public async IAsyncEnumerable<int> Stream(int n)
            {
                for (int i = 0; i < n; i++)
                {
                    await Task.Yield();
                    yield return _count + i;
                }
            }

            public int Add(int delta) => _count += delta;

            public int Add(int delta, int times) => _count += delta * times;

            public void Forward(ActorHandle<Counter> other, ObjectRef<int> value) { }

            public T Echo<T>(T value) => value;

            public void Bump(ref int value) => value++;

            public static int Helper() => 0;

            internal int Hidden() => 0;

            public override string ToString() => _count.ToString();

            public static Counter operator +(Counter c, int d) => c;

            public void Dispose() { }
        }
        """);

    [Fact]
    public void ActorWithImplicitConstructorAndBaseClass() => VerifyGenerated(nameof(ActorWithImplicitConstructorAndBaseClass), """
        using System.Threading.Tasks;
        using RaySharp;

        namespace MyApp.Actors;

        public abstract class GreeterBase
        {
            public string Hello(string name) => "hello " + name;

            public virtual string Bye(string name) => "bye " + name;

            public abstract int Version();
        }

        [RayRemote]
        public sealed partial class Greeter : GreeterBase, System.IAsyncDisposable
        {
            public override string Bye(string name) => "goodbye " + name;

            public override int Version() => 2;

            public new string Hello(string name) => "hi " + name;

            public ValueTask DisposeAsync() => default;
        }
        """);

    [Fact]
    public void NestedTypes() => VerifyGenerated(nameof(NestedTypes), """
        using RaySharp;

        namespace MyApp;

        public static partial class Outer
        {
            public partial class Tasks
            {
                [RayRemote]
                public static int Square(int x) => x * x;
            }

            [RayRemote]
            public partial class Worker
            {
                public Worker(string name) { Name = name; }

                public string Name { get; }

                public string Work(int item) => Name + item;
            }

            internal partial record struct Inner
            {
                [RayRemote]
                public static string Echo(string s) => s;
            }
        }
        """);

    [Fact]
    public void GlobalNamespace() => VerifyGenerated(nameof(GlobalNamespace), """
        using RaySharp;

        public partial class GlobalTasks
        {
            public int Instance() => 1;

            [RayRemote]
            public static int Twice(int x) => 2 * x;
        }

        [RayRemote]
        internal partial class GlobalActor
        {
            public GlobalActor(GlobalTasks? tasks) { }

            public int Ping() => 1;
        }
        """);

    [Fact]
    public void TasksAndActorInOneType() => VerifyGenerated(nameof(TasksAndActorInOneType), """
        using System.Threading.Tasks;
        using RaySharp;

        namespace MyApp;

        [RayRemote(MaxConcurrency = 8)]
        public partial class Cache
        {
            private readonly int _size;

            public Cache(int size) => _size = size;

            public int Size() => _size;

            public async Task Warm() => await Task.Yield();

            [RayRemote(MaxRetries = 0)]
            public static ActorHandle<Cache> Build(int size) => throw new System.NotSupportedException();

            [RayRemote]
            public static int Register(int x) => x;
        }
        """);

    [Fact]
    public void ObjectViewParameters() => VerifyGenerated(nameof(ObjectViewParameters), """
        using System;
        using System.Collections.Generic;
        using System.Threading;
        using System.Threading.Tasks;
        using RaySharp;

        namespace MyApp;

        public static partial class Vectors
        {
            [RayRemote]
            public static double Sum(ObjectView<float> data)
            {
                double total = 0;
                foreach (var x in data.Span) total += x;
                return total;
            }

            [RayRemote]
            public static async Task<long> CountAsync(CancellationToken ct, ObjectView<int> inv, string label)
            {
                await Task.Delay(1, ct);
                return inv.Length + label.Length;
            }

            [RayRemote]
            public static void Check(ObjectView<byte> left, ObjectView<byte> right) { }

            [RayRemote]
            public static async IAsyncEnumerable<double> Chunks(ObjectView<double> values, int size)
            {
                for (long i = 0; i < values.Length; i += size)
                {
                    await Task.Yield();
                    yield return values.Memory.Span[(int)i];
                }
            }
        }

        [RayRemote]
        public partial class Model
        {
            private readonly float[] _weights;

            public Model(ObjectView<float> weights) => _weights = weights.Span.ToArray();

            public float Score(ObjectView<float> input)
            {
                float score = 0;
                var x = input.Span;
                for (int i = 0; i < x.Length && i < _weights.Length; i++) score += x[i] * _weights[i];
                return score;
            }
        }
        """);

    [Fact]
    public void UnsupportedShapesEmitNothing()
    {
        var (result, output) = GeneratorHarness.Run("""
            using RaySharp;

            namespace MyApp;

            public class NotPartial
            {
                [RayRemote]
                public static int F(int x) => x;
            }

            public class NotPartialOuter
            {
                public partial class Inner
                {
                    [RayRemote]
                    public static int F(int x) => x;
                }
            }

            [RayRemote]
            public partial class GenericActor<T>
            {
                public T Get(T value) => value;
            }

            [RayRemote]
            public abstract partial class AbstractActor
            {
                public int Get() => 1;
            }

            [RayRemote]
            public static partial class StaticActor
            {
                public static int Get() => 1;
            }

            public partial class BadFunctions
            {
                [RayRemote]
                public static T Generic<T>(T value) => value;

                [RayRemote]
                public static void ByRef(ref int value) { }

                [RayRemote]
                public static void Out(out int value) { value = 1; }

                [RayRemote]
                public int Instance() => 1;

                [RayRemote(NumReturns = 2)]
                public static int NotATuple() => 1;

                [RayRemote(NumReturns = 3)]
                public static (int, int) WrongArity() => (1, 2);
            }

            public partial class Container
            {
                [RayRemote]
                private partial class PrivateActor
                {
                    public int Get() => 1;
                }
            }
            """);
        Assert.Empty(result.GeneratedTrees);
        GeneratorHarness.AssertCompilesCleanly(output);
    }
}
