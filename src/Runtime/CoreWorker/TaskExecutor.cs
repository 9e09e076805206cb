using RaySharp.Internal;

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
        try
        {
            await task.Function.Invoker(invocation).ConfigureAwait(false);
            return new PushTaskReply(invocation.Returns(), null, false, invocation.NestedPins());
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            invocation.ReleasePins();
            return new PushTaskReply([], RayErrorInfo.Cancelled(task.TaskId, task.DisplayName), false);
        }
        catch (Exception e)
        {
            invocation.ReleasePins();
            return new PushTaskReply([], RayErrorInfo.FromUserException(e, task.DisplayName), true);
        }
        finally
        {
            restoreEnv?.Invoke();
            TaskExecutionContext.Current = previous;
        }
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

        public override T Arg<T>(int index) => ObjectSerializer.Deserialize<T>(ResolvedArg(index).Data, _worker);

        // Arguments arrive inline in the task spec (refs were resolved by the submitter), as managed arrays the view
        // may alias: the spec keeps them alive, so there is nothing to pin.
        private protected override ReadOnlyMemory<byte> SerializedArg(int index, out IDisposable? pin)
        {
            pin = null;
            return ResolvedArg(index).Data;
        }

        private SerializedObject ResolvedArg(int index)
        {
            var arg = _task.Args[index];
            if (arg.IsRef)
                throw new InvalidOperationException($"{_task.DisplayName}: argument {index} was not resolved before execution.");
            return arg.Value;
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
            var serialized = ObjectSerializer.Serialize(value, _worker, SerializationSite.Return(_task.DisplayName, index));
            Pin(serialized.NestedIds);
            _returns[index] = RayObject.FromValue(serialized);
        }

        public override ValueTask Yield<T>(T item)
        {
            _ct.ThrowIfCancellationRequested();
            var serialized = ObjectSerializer.Serialize(item, _worker, SerializationSite.Item(_task.DisplayName));
            var obj = RayObject.FromValue(serialized);
            int index = _yielded++;
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
