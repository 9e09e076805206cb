using System.Diagnostics;
using RaySharp.Core.Stats;
using RaySharp.Internal;
using RaySharp.State;

namespace RaySharp.Core;

/// <summary>
/// Runs one task on the worker that received it (Ray's <c>TaskReceiver</c> + executor): deserializes
/// arguments, runs the generated invoker with the task's context and runtime env, and serializes the results.
/// User exceptions become error results; nothing escapes.
/// </summary>
internal sealed class TaskExecutor
{
    private readonly CoreWorker _worker;
    private readonly IGeneratorItemSink _generatorSink;
    private static readonly Lock s_envLock = new();

    public TaskExecutor(CoreWorker worker, IGeneratorItemSink generatorSink)
    {
        _worker = worker;
        _generatorSink = generatorSink;
    }

    public async Task<PushTaskReply> ExecuteAsync(TaskSpec task, IExecutingWorker executingWorker, ActorState? actor,
        CancellationToken cancellationToken)
    {
        var invocation = new Invocation(task, _worker, _generatorSink, actor, cancellationToken);
        var context = new TaskExecutionContext(task, executingWorker, cancellationToken, actor);
        var previous = TaskExecutionContext.Current;
        TaskExecutionContext.Current = context;
        // A worker process was started with its runtime env's variables; local mode shares one process.
        var restoreEnv = _worker.WorkersShareProcess ? ApplyRuntimeEnv(task.RuntimeEnv) : null;
        var events = _worker.TaskEvents;
        // An actor's creation has no owner-side reply to end it: the executor reports how it ended, and what it is.
        bool creation = task.Type == TaskType.ActorCreationTask;
        events?.Record(task, task.AttemptNumber, RayTaskStatus.Running, withInfo: creation, nodeId: _worker.Raylet.NodeId,
            workerId: executingWorker.WorkerId, pid: Environment.ProcessId);
        // The span is current while user code runs: its own spans and logs join the submitter's trace.
        using var span = RayTracing.StartExecute(task, _worker.WorkerId);
        var type = RayMetrics.TypeTag(task.Type);
        RayMetrics.TasksRunning.Add(1, type);
        long started = Stopwatch.GetTimestamp();
        string outcome = Ok;
        try
        {
            await invocation.MapStoreArgumentsAsync().ConfigureAwait(false);
            await task.Function.Invoker(invocation).ConfigureAwait(false);
            if (creation) events?.Record(task, task.AttemptNumber, RayTaskStatus.Finished);
            if (task.Type == TaskType.ActorCreationTask && !_worker.WorkersShareProcess) AnnounceActor(task);
            return new PushTaskReply(invocation.Returns(), null, false, invocation.NestedPins());
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            outcome = Cancelled;
            invocation.ReleasePins();
            var cancelled = RayErrorInfo.Cancelled(task.TaskId, task.DisplayName);
            if (creation) events?.Record(task, task.AttemptNumber, RayTaskStatus.Failed, error: cancelled);
            return new PushTaskReply([], cancelled, false);
        }
        catch (Exception e)
        {
            outcome = Error;
            span?.SetStatus(ActivityStatusCode.Error, e.GetType().Name);
            invocation.ReleasePins();
            var error = RayErrorInfo.FromUserException(e, task.DisplayName);
            if (creation) events?.Record(task, task.AttemptNumber, RayTaskStatus.Failed, error: error);
            return new PushTaskReply([], error, true);
        }
        finally
        {
            invocation.UnmapStoreArguments();
            restoreEnv?.Invoke();
            TaskExecutionContext.Current = previous;
            RayMetrics.TasksRunning.Add(-1, type);
            RayMetrics.TaskExecutions.Add(1, type, new KeyValuePair<string, object?>(RayMetrics.Outcome, outcome));
            if (RayMetrics.TaskExecutionTime.Enabled) RayMetrics.TaskExecutionTime.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, type);
        }
    }

    private const string Ok = "ok", Error = "error", Cancelled = "cancelled";

    /// <summary>The line a worker process writes to its standard output once it hosts an actor: the node's log monitor
    /// reads it (and does not forward it) and names the actor in the prefix of the worker's later output.</summary>
    internal const string ActorNameMarker = ":raysharp_actor_name:";

    private static void AnnounceActor(TaskSpec task)
    {
        Console.Out.WriteLine(ActorNameMarker + (task.ActorCreation?.Class.Name ?? task.DisplayName));
        Console.Out.Flush();
    }

    /// <summary>Local mode shares one process, so a task's env vars are set process-wide while it runs.</summary>
    private static Action? ApplyRuntimeEnv(RuntimeEnv? env)
    {
        if (env?.EnvVars is not { Count: > 0 } vars) return null;
        var saved = new Dictionary<string, string?>();
        lock (s_envLock)
        {
            foreach (var (k, v) in vars)
            {
                saved[k] = Environment.GetEnvironmentVariable(k);
                Environment.SetEnvironmentVariable(k, v);
            }
        }
        return () =>
        {
            lock (s_envLock)
                foreach (var (k, v) in saved) Environment.SetEnvironmentVariable(k, v);
        };
    }

    private sealed class Invocation : TaskInvocation
    {
        private readonly TaskSpec _task;
        private readonly CoreWorker _worker;
        private readonly IGeneratorItemSink _sink;
        private readonly ActorState? _actor;
        private readonly CancellationToken _ct;
        private readonly RayObject?[] _returns;
        private readonly List<ObjectId> _pins = [];
        private StoreMapping?[]? _mapped;
        private int _yielded;

        public Invocation(TaskSpec task, CoreWorker worker, IGeneratorItemSink sink, ActorState? actor, CancellationToken ct)
        {
            _task = task;
            _worker = worker;
            _sink = sink;
            _actor = actor;
            _ct = ct;
            _returns = new RayObject?[task.NumReturns];
        }

        public override CancellationToken CancellationToken => _ct;

        public override T Arg<T>(int index) => ObjectSerializer.Deserialize<T>(SerializedArg(index, out _).Span, _worker);

        // An inline argument is a managed array the spec keeps alive; an in-store one is mapped until the task is done
        // (after the generated code has disposed its views): neither needs a pin of its own.
        private protected override ReadOnlyMemory<byte> SerializedArg(int index, out IDisposable? pin)
        {
            pin = null;
            var arg = _task.Args[index];
            if (arg.IsRef)
                throw new InvalidOperationException($"{_task.DisplayName}: argument {index} was not resolved before execution.");
            return arg.IsInStore ? _mapped![index]!.Memory : arg.Value.Data;
        }

        /// <summary>Maps the arguments that are in the object store (pulled to this node first when needed); they stay
        /// mapped, and read, until the task is done.</summary>
        public async Task MapStoreArgumentsAsync()
        {
            for (int i = 0; i < _task.Args.Length; i++)
            {
                var arg = _task.Args[i];
                if (!arg.IsInStore) continue;
                _mapped ??= new StoreMapping?[_task.Args.Length];
                _mapped[i] = await _worker.MapAsync(arg.Id, RayObject.InStore(arg.StoreNode, arg.StoreSize, arg.Value.NestedIds), _ct)
                    .ConfigureAwait(false);
            }
        }

        public void UnmapStoreArguments()
        {
            if (_mapped is null) return;
            for (int i = 0; i < _mapped.Length; i++)
            {
                if (_mapped[i] is not { } mapping) continue;
                mapping.Close();
                _worker.ObjectStore?.Release(_task.Args[i].Id);
                _mapped[i] = null;
            }
        }

        public override TActor Actor<TActor>() =>
            _actor?.Instance as TActor ?? throw new InvalidOperationException(
                $"{_task.DisplayName} runs on an actor of type {_actor?.Instance?.GetType().FullName ?? "<none>"}, not {typeof(TActor).FullName}.");

        public override void SetActor(object instance)
        {
            if (_actor is null) throw new InvalidOperationException($"{_task.DisplayName} is not an actor creation task.");
            _actor.Instance = instance;
        }

        public override void Return<T>(T value) => Return(0, value);

        public override void Return<T>(int index, T value)
        {
            using var serialized = ObjectSerializer.SerializePooled(value, _worker, SerializationSite.Return(_task.DisplayName, index));
            // A large return stays in this node's store, pinned for the task's owner; the owner gets its location.
            _returns[index] = _worker.StoreIfLarge(_task.ReturnId(index), serialized, _task.Owner);
            Pin(serialized.NestedIds);
        }

        public override ValueTask Yield<T>(T item)
        {
            _ct.ThrowIfCancellationRequested();
            using var serialized = ObjectSerializer.SerializePooled(item, _worker, SerializationSite.Item(_task.DisplayName));
            int index = _yielded++;
            // A large item stays in this node's store like a large return; its owner gets the location.
            var obj = _worker.StoreIfLarge(ObjectId.ForReturn(_task.TaskId, index + 1), serialized, _task.Owner);
            // Items go to the owner one at a time, in order; a remote owner acknowledges each before the next.
            if (_worker.Ownership is { } ownership && _task.Owner.WorkerId != _worker.WorkerId)
                return new ValueTask(ownership.ReportGeneratorItemAsync(_task.Owner, _task.TaskId, index, obj));
            // The owner records the nesting when it stores the item, which happens synchronously here.
            _sink.ReportGeneratorItem(_task.TaskId, index, obj);
            return ValueTask.CompletedTask;
        }

        // Refs nested in returns must outlive the task's own ObjectRef instances until the owner records them
        // as contained in the return; the executor pins them with a local reference the owner releases.
        private void Pin(ObjectId[] ids)
        {
            foreach (var id in ids) _worker.ReferenceCounter.AddLocalReference(id);
            _pins.AddRange(ids);
        }

        public void ReleasePins()
        {
            foreach (var id in _pins) _worker.ReferenceCounter.RemoveLocalReference(id);
            _pins.Clear();
        }

        public RayObject[] Returns()
        {
            var result = new RayObject[_returns.Length];
            for (int i = 0; i < result.Length; i++) result[i] = _returns[i] ?? RayObject.Void;
            return result;
        }

        public ObjectId[][]? NestedPins()
        {
            if (_pins.Count == 0) return null;
            var result = new ObjectId[_returns.Length][];
            for (int i = 0; i < result.Length; i++) result[i] = _returns[i]?.NestedIds ?? [];
            return result;
        }
    }
}
