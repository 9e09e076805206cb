using Microsoft.CodeAnalysis.Testing;
using Xunit;

namespace RaySharp.Analyzers.Tests;

public class ReferenceLeakTests
{
    private static Task VerifyAsync(string source, params DiagnosticResult[] expected) =>
        RemoteStubs.VerifyAsync<ReferenceLeakAnalyzer>(source, expected);

    // ---- RAY010: raises ----

    [Fact]
    public Task Static_field_and_auto_property_holding_refs() => VerifyAsync("""
        public static class ModelCache
        {
            private static ObjectRef<int>? {|#0:s_model|};

            public static ActorHandle<Counter>? {|RAY010:Shared|} { get; set; }

            public static void Load() => s_model = Tasks.Remote.Square(3);
        }
        """,
        new DiagnosticResult(DiagnosticDescriptors.RefInStaticState).WithLocation(0).WithMessage(
            "'ModelCache.s_model' keeps 'ObjectRef<int>?' in static state: it stays pinned for the life of the process, and remote code reading the static sees its own process's copy; pass the reference as an argument or keep it in an actor"));

    [Fact]
    public Task Static_collections_of_refs_and_handles() => VerifyAsync("""
        using System.Collections.Concurrent;

        public static class Registry
        {
            private static readonly Dictionary<string, ActorHandle<Counter>> {|RAY010:s_counters|} = new();
            private static readonly ConcurrentQueue<(string Key, ObjectRef<int> Value)> {|RAY010:s_pending|} = new();
            private static ObjectRef<byte[]>[] {|RAY010:s_chunks|} = [];
            private static Lazy<ObjectRef<int>> {|RAY010:s_lazy|} = new(() => Tasks.Remote.Square(2));
        }
        """);

    [Fact]
    public Task Ref_stored_into_a_static_of_object_type() => VerifyAsync("""
        public static class KeepAlive
        {
            private static readonly List<object> s_keep = new();
            private static object? s_last;

            public static void Submit(int x)
            {
                var r = Tasks.Remote.Square(x);
                s_keep.Add({|#0:r|});
                s_last = {|RAY010:r|};
            }
        }
        """,
        new DiagnosticResult(DiagnosticDescriptors.RefInStaticState).WithLocation(0).WithArguments("KeepAlive.s_keep", "ObjectRef<int>"));

    // ---- RAY010: silent ----

    [Fact]
    public Task Instance_fields_and_locals_holding_refs_are_fine() => VerifyAsync("""
        public sealed class Pipeline
        {
            private ObjectRef<int>? _model;
            private readonly List<ActorHandle<Counter>> _workers = new();

            public void Start(ActorHandle<Counter> worker)
            {
                _model = Tasks.Remote.Square(2);
                _workers.Add(worker);
                var local = Tasks.Remote.Square(3);
            }
        }
        """);

    [Fact]
    public Task Statics_of_other_types_are_fine() => VerifyAsync("""
        public static class Settings
        {
            private const int Size = 4;
            private static int s_count;
            private static ObjectId s_lastId;
            private static readonly Func<ObjectRef<int>> s_factory = () => Tasks.Remote.Square(Size);
            private static readonly Task<ObjectRef<int>>? s_pending = null;
        }
        """);

    [Fact]
    public Task Lookups_on_static_collections_and_computed_static_properties_are_fine() => VerifyAsync("""
        public static class Lookups
        {
            private static readonly List<object> s_seen = new();
            private static readonly HashSet<ObjectId> s_ids = new();

            public static ObjectRef<int> Current => Tasks.Remote.Square(1);

            public static bool Check(ObjectRef<int> r)
            {
                s_ids.Add(r.Id);
                Tasks.Remote.Add(r, 1);
                return s_seen.Contains(r) || s_seen.IndexOf(r) >= 0;
            }
        }
        """);

    // ---- RAY011: raises ----

    [Fact]
    public Task Lambda_handed_to_a_timer_or_stored_in_a_field() => VerifyAsync("""
        public sealed class Monitor
        {
            private Timer? _timer;
            private Func<int>? _onDone;

            public void Start()
            {
                var progress = Tasks.Remote.Square(2);
                _timer = new Timer(_ => Console.WriteLine({|#0:progress|}.Get()), null, 0, 1000);
                var result = Tasks.Remote.Square(3);
                _onDone = () => {|#1:result|}.Get() + result.Get();
            }
        }
        """,
        new DiagnosticResult(DiagnosticDescriptors.RefCapturedByLongLivedCallback).WithLocation(0).WithMessage(
            "The callback captures ObjectRef 'progress' and is handed to a Timer, so the closure pins the object for as long as the callback lives: pass the ref into the callback explicitly, or dispose it when done"),
        new DiagnosticResult(DiagnosticDescriptors.RefCapturedByLongLivedCallback).WithLocation(1).WithArguments("result", "is stored in field 'Monitor._onDone'"));

    [Fact]
    public Task Event_subscription_and_fire_and_forget_tasks() => VerifyAsync("""
        public sealed class Source
        {
            public event Action? Tick;
        }

        public static class Driver
        {
            public static void Run(Source source, ObjectRef<int> input)
            {
                source.Tick += () => Console.WriteLine({|#0:input|}.Get());
                var r = Tasks.Remote.Square(2);
                Task.Run(() => Console.WriteLine({|#1:r|}.Get()));
                _ = Task.Run(() => {|#2:r|}.Dispose());
                ThreadPool.QueueUserWorkItem(_ => {|#3:r|}.Get());
            }
        }
        """,
        new DiagnosticResult(DiagnosticDescriptors.RefCapturedByLongLivedCallback).WithLocation(0).WithArguments("input", "is subscribed to event 'Source.Tick'"),
        new DiagnosticResult(DiagnosticDescriptors.RefCapturedByLongLivedCallback).WithLocation(1).WithArguments("r", "is started with Task.Run that nobody awaits"),
        new DiagnosticResult(DiagnosticDescriptors.RefCapturedByLongLivedCallback).WithLocation(2).WithArguments("r", "is started with Task.Run that nobody awaits"),
        new DiagnosticResult(DiagnosticDescriptors.RefCapturedByLongLivedCallback).WithLocation(3).WithArguments("r", "is queued to the thread pool"));

    [Fact]
    public Task Local_function_used_as_timer_callback() => VerifyAsync("""
        public static class Poller
        {
            public static Timer Start()
            {
                var status = Tasks.Remote.Describe(1);
                void Poll(object? state) => Console.WriteLine({|RAY011:status|}.Get());
                return new Timer(Poll, null, 0, 500);
            }
        }
        """);

    // ---- RAY011: silent ----

    [Fact]
    public Task Awaited_and_short_lived_lambdas_are_fine() => VerifyAsync("""
        using System.Linq;

        public static class Driver
        {
            public static async Task<int> Run(List<int> xs)
            {
                var r = Tasks.Remote.Square(2);
                var a = await Task.Run(() => r.Get());
                var pending = Task.Run(() => r.Get());
                Func<int> read = () => r.Get();
                var doubled = xs.Select(x => x * r.Get()).Sum();
                return a + read() + doubled + await pending;
            }
        }
        """);

    [Fact]
    public Task Ref_passed_as_state_or_parameter_is_not_captured() => VerifyAsync("""
        public sealed class Monitor
        {
            private Timer? _timer;
            private Func<ObjectRef<int>, int>? _reader;

            public void Start()
            {
                var r = Tasks.Remote.Square(2);
                _timer = new Timer(state => Console.WriteLine(((ObjectRef<int>)state!).Get()), r, 0, 1000);
                _reader = x => x.Get();
            }
        }
        """);

    [Fact]
    public Task Long_lived_callbacks_capturing_only_values_are_fine() => VerifyAsync("""
        public sealed class Monitor
        {
            private Action? _log;

            public void Start(ActorHandle<Counter> counter)
            {
                var value = Tasks.Remote.Square(2).Get();
                _log = () => Console.WriteLine(value);
                Task.Run(() => Console.WriteLine(value));
                _ = new Timer(_ => Console.WriteLine(counter.Name), null, 0, 1000);
            }
        }
        """);

    // ---- RAY012: raises ----

    [Fact]
    public Task Json_serialization_of_a_ref_or_of_an_object_holding_one() => VerifyAsync("""
        using System.Text.Json;

        public sealed class Job
        {
            public string Name { get; set; } = "";
            public ObjectRef<int>? Input { get; set; }
        }

        public static class Outbox
        {
            public static (string, string) Write(Job job)
            {
                var r = Tasks.Remote.Square(2);
                return (JsonSerializer.Serialize({|#0:r|}), JsonSerializer.Serialize({|#1:job|}));
            }
        }
        """,
        new DiagnosticResult(DiagnosticDescriptors.RefSerializedOutOfBand).WithLocation(0).WithMessage(
            "JsonSerializer.Serialize writes ObjectRef 'r' outside RaySharp's serializer: the runtime cannot count that copy of the reference, and the object may be freed while it is still in use; pass refs through task arguments, return values or objects RaySharp serializes"),
        new DiagnosticResult(DiagnosticDescriptors.RefSerializedOutOfBand).WithLocation(1).WithArguments("JsonSerializer.Serialize writes", "'job', whose member 'Job.Input' holds an ObjectRef,"));

    [Fact]
    public Task Id_written_with_a_binary_writer_or_to_a_file() => VerifyAsync("""
        public static class Checkpoint
        {
            public static void Save(BinaryWriter writer, string path)
            {
                var r = Tasks.Remote.Square(2);
                writer.Write({|#0:r.Id.ToString()|});
                var text = r.ToString();
                writer.Write({|RAY012:text|});
                File.WriteAllText(path, {|RAY012:$"result={r.Id}"|});
            }
        }
        """,
        new DiagnosticResult(DiagnosticDescriptors.RefSerializedOutOfBand).WithLocation(0).WithArguments("BinaryWriter.Write writes", "the ID of ObjectRef 'r'"));

    [Fact]
    public Task Id_text_stored_in_a_field() => VerifyAsync("""
        public sealed class Tracker
        {
            private string? _pendingId;
            public string ResultId { get; set; } = "";

            public void Submit()
            {
                var r = Tasks.Remote.Square(2);
                _pendingId = {|#0:r.Id.ToString()|};
                ResultId = {|RAY012:r.ToString()|};
            }
        }
        """,
        new DiagnosticResult(DiagnosticDescriptors.RefSerializedOutOfBand).WithLocation(0).WithArguments("'Tracker._pendingId' stores", "the ID of ObjectRef 'r' as text"));

    // ---- RAY012: silent ----

    [Fact]
    public Task Logging_ids_is_fine() => VerifyAsync("""
        public static class Driver
        {
            public static void Run(TextWriter log)
            {
                var r = Tasks.Remote.Square(2);
                Console.WriteLine($"submitted {r.Id}");
                log.WriteLine("waiting for " + r);
            }
        }
        """);

    [Fact]
    public Task Serializing_values_and_keying_by_id_are_fine() => VerifyAsync("""
        using System.Text.Json;

        public sealed class Results
        {
            private readonly Dictionary<string, ObjectRef<int>> _byId = new();

            public string Save(BinaryWriter writer)
            {
                var r = Tasks.Remote.Square(2);
                _byId[r.Id.ToString()] = r;
                var value = r.Get();
                writer.Write(value);
                return JsonSerializer.Serialize(value);
            }
        }
        """);

    [Fact]
    public Task Comparing_ids_and_writing_unrelated_text_are_fine() => VerifyAsync("""
        public sealed class Results
        {
            private string _label = "";

            public bool Same(ObjectRef<int> a, ObjectRef<int> b, BinaryWriter writer)
            {
                _label = a.Get().ToString();
                writer.Write(_label);
                File.WriteAllText("out.txt", b.Get().ToString());
                return a.Id == b.Id;
            }
        }
        """);
}
