using System.Collections.Concurrent;
using MemoryPack;

namespace RaySharp.Tests;

[MemoryPackable]
public partial record Point(int X, int Y);

/// <summary>Not [MemoryPackable]: cannot cross the wire.</summary>
public sealed class NotSerializable
{
    public Func<int>? Callback { get; set; }
}

public class AppException(string message) : Exception(message);

public sealed class SpecificAppException(string message) : AppException(message);

public static partial class Tasks
{
    [RayRemote]
    public static int Add(int a, int b) => a + b;

    [RayRemote]
    public static Point Move(Point p, int dx) => p with { X = p.X + dx };

    [RayRemote]
    public static async Task<string> Echo(string s)
    {
        await Task.Yield();
        return s;
    }

    [RayRemote]
    public static void Nothing() { }

    [RayRemote(NumReturns = 2)]
    public static (int Sum, string Text) Both(int a, int b) => (a + b, $"{a}+{b}");

    [RayRemote]
    public static int Fail(string message) => throw new SpecificAppException(message);

    [RayRemote]
    public static int FailWithArgument(string message) => throw new ArgumentOutOfRangeException(nameof(message), message);

    // RAY002 rejects this at compile time; it is suppressed to test that the runtime rejects it too.
#pragma warning disable RAY002
    [RayRemote]
    public static int Describe(NotSerializable value) => value.Callback?.Invoke() ?? 0;
#pragma warning restore RAY002

    [RayRemote]
    public static int SumOfRefs(List<ObjectRef<int>> refs) => refs.Sum(r => r.Get());

    [RayRemote]
    public static int ReadRef(ObjectRef<int> r) => r.Get() * 10;

    [RayRemote]
    public static async IAsyncEnumerable<int> Produce(int n)
    {
        for (int i = 0; i < n; i++)
        {
            await Task.Yield();
            yield return i * i;
        }
    }

    [RayRemote]
    public static async IAsyncEnumerable<int> ProduceThenFail(int n)
    {
        for (int i = 0; i < n; i++)
        {
            await Task.Yield();
            yield return i;
        }
        throw new AppException("generator broke");
    }

    [RayRemote]
    public static async Task<int> WaitForCancel(CancellationToken ct)
    {
        await Task.Delay(System.Threading.Timeout.Infinite, ct);
        return 1;
    }

    [RayRemote]
    public static string? ReadEnv(string name) => Environment.GetEnvironmentVariable(name);

    [RayRemote]
    public static string RuntimeTaskId() => Ray.GetRuntimeContext().TaskId?.ToString() ?? "";

    /// <summary>Submits a child task and blocks on it: needs the blocked parent to release its CPU.</summary>
    [RayRemote]
    public static int Nested(int depth) => depth == 0 ? 1 : 1 + Tasks.Remote.Nested(depth - 1).Get();

    // RAY101 on purpose: the test checks that a ref put inside a task and returned from it still resolves.
#pragma warning disable RAY101
    [RayRemote]
    public static ObjectRef<int> PutInside(int v) => Ray.Put(v);
#pragma warning restore RAY101

    /// <summary>Holds its resources until the gate actor opens. It polls instead of blocking in Get, because a
    /// task blocked in Get releases its CPUs (as in Ray) and would not hold them.</summary>
    [RayRemote]
    public static int Hold(ActorHandle<Gate> gate, ActorHandle<Tally> running)
    {
        // Calls from one caller run in order, so these need not be awaited.
        running.Add(1);
        try
        {
            var opened = gate.WaitOpen();
            while (Ray.Wait(new[] { opened }, timeout: TimeSpan.Zero).Ready.Count == 0) Thread.Sleep(2);
            return opened.Get();
        }
        finally { running.Add(-1); }
    }

    [RayRemote]
    public static int CountAttempt(ActorHandle<Tally> attempts, int failUntil)
    {
        int attempt = attempts.Add(1).Get();
        if (attempt <= failUntil) throw new SpecificAppException($"attempt {attempt} fails");
        return attempt;
    }

    /// <summary>Counts its run on <paramref name="runs"/>, then, given a file (not ""), waits for it to exist. It never waits in Ray's
    /// Get or Wait, so tasks pipelined behind it stay queued on its worker (a task blocked in Get gives them back).</summary>
    [RayRemote]
    public static int RunOrHold(string releaseFile, ActorHandle<Tally> runs)
    {
        // Not waited for: a task blocked in Get gives its CPU back, and a task queued behind this one could then start.
        using var counted = runs.Add(1);
        if (releaseFile.Length == 0) return 0;
        while (!File.Exists(releaseFile)) Thread.Sleep(2);
        return 1;
    }

    [RayRemote]
    public static int CountAttemptThrowingArgument(ActorHandle<Tally> attempts)
    {
        attempts.Add(1).Get();
        throw new ArgumentException("not retried");
    }

    [RayRemote]
    public static int CallCounter(ActorHandle<Counter> counter) => counter.Increment().Get();

    [RayRemote]
    public static int Slow(int ms)
    {
        Thread.Sleep(ms);
        return ms;
    }
}

[RayRemote]
public partial class Counter
{
    private int _count;

    public Counter() { }

    public Counter(int start) => _count = start;

    public int Increment() => ++_count;

    public int Read() => _count;

    public void Reset() => _count = 0;

    public string ContextActorId() => Ray.GetRuntimeContext().ActorId?.ToString() ?? "";
}

/// <summary>A counter shared by tasks: a value that lives in an actor, not in static state.</summary>
[RayRemote]
public partial class Tally
{
    private int _value;
    private int _max;

    public int Add(int delta)
    {
        _value += delta;
        _max = Math.Max(_max, _value);
        return _value;
    }

    public int Max() => _max;

    public int Value() => _value;
}

/// <summary>An async actor whose callers wait until it is opened.</summary>
[RayRemote]
public partial class Gate
{
    private readonly TaskCompletionSource<int> _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _waiting;

    public async Task<int> WaitOpen()
    {
        Interlocked.Increment(ref _waiting);
        return await _open.Task;
    }

    public Task<int> Waiting() => Task.FromResult(Volatile.Read(ref _waiting));

    public Task Open(int value)
    {
        _open.TrySetResult(value);
        return Task.CompletedTask;
    }
}

[RayRemote]
public partial class Failing
{
    public Failing(string why) => throw new InvalidOperationException(why);

    public int Never() => 0;
}

/// <summary>Records its own disposal in a detached witness actor.</summary>
[RayRemote]
public partial class Disposable : IDisposable
{
    private readonly ActorHandle<Tally> _disposals;

    public Disposable(ActorHandle<Tally> disposals) => _disposals = disposals;

    public int Ping() => 1;

    public int Quit()
    {
        Ray.ExitActor();
        return 2;
    }

    public void Dispose() => _disposals.Add(1).Get();
}

[RayRemote(MaxRestarts = 1)]
public partial class Restartable
{
    private int _calls;

    public int Call() => ++_calls;

    public bool Reconstructed() => Ray.GetRuntimeContext().WasCurrentActorReconstructed;
}

[RayRemote(MaxConcurrency = 2)]
public partial class TwoAtATime
{
    private readonly ActorHandle<Tally> _running;

    public TwoAtATime(ActorHandle<Tally> running) => _running = running;

    public async Task<int> Work(ActorHandle<Gate> gate)
    {
        await _running.Add(1);
        try { return await gate.WaitOpen(); }
        finally { await _running.Add(-1); }
    }
}

[RayRemote]
public partial class Streamer
{
    public async IAsyncEnumerable<string> Words(string text)
    {
        foreach (var w in text.Split(' '))
        {
            await Task.Yield();
            yield return w;
        }
    }
}

/// <summary>A type whose serializer fails with an exception of its own (not MemoryPack's).</summary>
[MemoryPackable]
public partial class Exploding
{
    public int Value { get; set; }

    [MemoryPackOnSerializing]
    private void Refuse() => throw new ApplicationException("this value refuses to be written");
}

public static partial class Tasks
{
    [RayRemote]
    public static int TakeExploding(Exploding value) => value.Value;
}

public static partial class Tasks
{
    [RayRemote]
    public static int PingAfterGate(ActorHandle<Gate> gate, ActorHandle<Disposable> actor)
    {
        gate.WaitOpen().Get();
        return actor.Ping().Get();
    }

    [RayRemote]
    public static int AddToTally(ActorHandle<Tally> tally, int delta) => tally.Add(delta).Get();
}

/// <summary>An actor whose method hangs until the actor is killed.</summary>
[RayRemote]
public partial class Hanger
{
    public int Ready() => 1;

    public int Hang(ActorHandle<Tally> started)
    {
        started.Add(1).Get();
        Thread.Sleep(TimeSpan.FromMinutes(2));
        return 0;
    }
}

public static partial class Tasks
{
    /// <summary>Waits until cancelled, counting the cancellation it saw.</summary>
    [RayRemote]
    public static async Task<int> CountCancel(ActorHandle<Tally> cancelled, ActorHandle<Tally> started, CancellationToken ct)
    {
        await started.Add(1);
        try
        {
            await Task.Delay(Timeout.Infinite, ct);
            return 0;
        }
        catch (OperationCanceledException)
        {
            await cancelled.Add(1);
            throw;
        }
    }

    /// <summary>Starts a child that waits for cancellation (it counts itself started), and waits for it.</summary>
    [RayRemote]
    public static int ParentOfWaiter(ActorHandle<Tally> cancelled, ActorHandle<Tally> started) =>
        Tasks.Remote.CountCancel(cancelled, started).Get();
}

/// <summary>An actor whose process dies in the first incarnation's <see cref="CrashOnce"/>.</summary>
[RayRemote]
public partial class Crashy
{
    public int Echo(int i) => i;

    public int CrashOnce()
    {
        if (!Ray.GetRuntimeContext().WasCurrentActorReconstructed) Environment.Exit(1);
        return 7;
    }
}

public static partial class Tasks
{
    /// <summary>Reports its process, then sleeps through any cooperative cancellation (it ignores its token).</summary>
    [RayRemote]
    public static int SleepUncooperatively(ActorHandle<Tally> pid)
    {
        pid.Add(Environment.ProcessId).Get();
        Thread.Sleep(TimeSpan.FromMinutes(2));
        return 0;
    }
}

/// <summary>An unmanaged struct: views read it byte for byte, as MemoryPack writes it.</summary>
public record struct Sample(int Id, double Value);

/// <summary>Remote methods that read their array arguments through <see cref="ObjectView{T}"/>.</summary>
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
    public static async Task<double> SumAsync(ObjectView<float> data, int skip)
    {
        await Task.Yield();
        double total = 0;
        foreach (var x in data.Memory.Span[skip..]) total += x;
        return total;
    }

    [RayRemote]
    public static float[] Range(int n) => Enumerable.Range(0, n).Select(i => (float)i).ToArray();

    [RayRemote]
    public static float[] FailToMake(string message) => throw new SpecificAppException(message);
}

/// <summary>An actor that reads views, and one that keeps a view past its call to show that the invoker disposed it.</summary>
[RayRemote]
public partial class Weights
{
    private readonly float[] _weights;
    private ObjectView<float>? _kept;

    public Weights(ObjectView<float> weights) => _weights = weights.Span.ToArray();

    public double Dot(ObjectView<float> input)
    {
        double total = 0;
        var x = input.Span;
        for (int i = 0; i < x.Length && i < _weights.Length; i++) total += x[i] * _weights[i];
        return total;
    }

    // RAY013 on purpose: the test checks that the view is disposed once the call has returned.
#pragma warning disable RAY013
    public long Keep(ObjectView<float> input)
    {
        _kept = input;
        return input.Length;
    }
#pragma warning restore RAY013

    public bool KeptViewIsDisposed()
    {
        try
        {
            _ = _kept!.Span;
            return false;
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
    }
}

/// <summary>Records which threads ran its sync calls and how many ran at once; created as a sync actor, or as a threaded
/// one through <c>MaxConcurrency</c>.</summary>
[RayRemote]
public partial class ThreadRecorder
{
    private readonly ConcurrentDictionary<int, byte> _threads = new();
    private readonly List<int> _order = [];
    private readonly Barrier _meeting;
    private int _running, _maxRunning;

    /// <param name="meeting">How many <see cref="Meet"/> calls must be running at once for any of them to return true.</param>
    public ThreadRecorder(int meeting) => _meeting = new Barrier(meeting);

    public int Record(int sequence)
    {
        Running.Enter(ref _running, ref _maxRunning);
        _threads.TryAdd(Environment.CurrentManagedThreadId, 0);
        lock (_order) _order.Add(sequence);
        Running.Exit(ref _running);
        return sequence;
    }

    /// <summary>Returns once the others of the meeting are running too; false if they never all run at once.</summary>
    public bool Meet() => _meeting.SignalAndWait(TimeSpan.FromSeconds(30));

    public int Threads() => _threads.Count;

    public int MaxRunning() => Volatile.Read(ref _maxRunning);

    public int[] Order()
    {
        lock (_order) return [.. _order];
    }
}

/// <summary>An async actor with sync methods too: its sync calls run on one thread, its async calls on the async
/// context, never waiting for that thread.</summary>
[RayRemote]
public partial class MixedActor
{
    private readonly ConcurrentDictionary<int, byte> _syncThreads = new();
    private readonly ManualResetEventSlim _opened = new();
    private int _running, _maxRunning, _blocked;

    public int Sync(int value)
    {
        Running.Enter(ref _running, ref _maxRunning);
        _syncThreads.TryAdd(Environment.CurrentManagedThreadId, 0);
        Running.Exit(ref _running);
        return value;
    }

    public Task<int> SyncThreads() => Task.FromResult(_syncThreads.Count);

    public Task<int> MaxRunning() => Task.FromResult(Volatile.Read(ref _maxRunning));

    public async Task<int> Echo(int value)
    {
        await Task.Yield();
        return value;
    }

    /// <summary>Blocks the actor's sync thread until an async call opens it; false if none does.</summary>
    public bool WaitOpened()
    {
        Volatile.Write(ref _blocked, 1);
        return _opened.Wait(TimeSpan.FromSeconds(30));
    }

    public Task<bool> Blocked() => Task.FromResult(Volatile.Read(ref _blocked) == 1);

    public Task Open()
    {
        _opened.Set();
        return Task.CompletedTask;
    }

    /// <summary>A blocking Get in a sync method: of a task, then of an async call to this very actor.</summary>
#pragma warning disable RAY114 // on purpose: it holds the actor's sync thread, which the async call must not need
    public int GetInside(ActorHandle<MixedActor> self, int value) =>
        Tasks.Remote.Add(value, 1).Get() + self.Echo(value).Get();
#pragma warning restore RAY114
}

/// <summary>Counts the calls running at once and keeps the peak.</summary>
internal static class Running
{
    public static void Enter(ref int running, ref int peak)
    {
        int now = Interlocked.Increment(ref running);
        int seen;
        while (now > (seen = Volatile.Read(ref peak)) && Interlocked.CompareExchange(ref peak, now, seen) != seen) { }
    }

    public static void Exit(ref int running) => Interlocked.Decrement(ref running);
}
