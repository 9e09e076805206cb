using System.ComponentModel;
using RaySharp.Core;

namespace RaySharp.Internal;

/// <summary>
/// Builds one remote call from a generated proxy: each argument is serialized on its own (a value with
/// MemoryPack, or a ref to resolve before the call runs), then the call is submitted to this process's
/// CoreWorker. Used by generated code only.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public struct RemoteCall
{
    private readonly CoreWorker _worker;
    private readonly RemoteFunctionDescriptor _function;
    private readonly TaskOptions? _taskOptions;
    private readonly ActorOptions? _actorOptions;
    private readonly ActorHandle? _actor;
    private readonly TaskArg[] _args;
    private List<ObjectId>? _puts;
    private int _count;

    private RemoteCall(RemoteFunctionDescriptor function, int argCount, TaskOptions? taskOptions,
        ActorOptions? actorOptions, ActorHandle? actor)
    {
        ArgumentNullException.ThrowIfNull(function);
        _worker = actor?.Worker ?? CoreWorker.Current;
        _function = function;
        _taskOptions = taskOptions;
        _actorOptions = actorOptions;
        _actor = actor;
        _args = argCount == 0 ? [] : new TaskArg[argCount];
        _count = 0;
    }

    /// <summary>Starts a call of a normal task.</summary>
    public static RemoteCall ForTask(RemoteFunctionDescriptor function, TaskOptions? options, int argCount) =>
        new(function, argCount, options, null, null);

    /// <summary>Starts an actor creation (a constructor call).</summary>
    public static RemoteCall ForActorCreation(RemoteFunctionDescriptor constructor, ActorOptions? options, int argCount) =>
        new(constructor, argCount, null, options, null);

    /// <summary>Starts a call of an actor method on <paramref name="actor"/>.</summary>
    public static RemoteCall ForActorMethod(ActorHandle actor, RemoteFunctionDescriptor method, int argCount)
    {
        ArgumentNullException.ThrowIfNull(actor);
        return new(method, argCount, null, null, actor);
    }

    /// <summary>Adds an argument the callee receives as a value: serialized now, or resolved from a ref before the call runs.</summary>
    public void Add<T>(Arg<T> argument)
    {
        if (argument.Ref is { } reference)
        {
            reference.ThrowIfReleased();
            _args[_count++] = TaskArg.ByReference(reference.Id, reference.Owner);
        }
        else
        {
            AddSerialized(ObjectSerializer.SerializePooled(argument.Value!, _worker, SerializationSite.Argument(_function.Name, _count)));
        }
    }

    /// <summary>Takes an argument serialized into a pooled buffer: copied out once when it is inlined, written from the
    /// buffer into the store when it is large; the buffer goes back to the pool either way.</summary>
    private void AddSerialized(PooledSerializedObject serialized)
    {
        ObjectId? put;
        using (serialized) _args[_count++] = _worker.ArgumentFor(serialized, out put);
        if (put is { } id) (_puts ??= []).Add(id);
    }

    /// <summary>Large arguments were put into the object store for this call: the submitted task holds them now, so
    /// the references taken when they were put go.</summary>
    private readonly void ReleasePuts()
    {
        if (_puts is null) return;
        foreach (var id in _puts) _worker.ReferenceCounter.RemoveLocalReference(id);
    }

    /// <summary>Adds an argument whose declared type holds refs or handles (e.g. <c>ObjectRef&lt;T&gt;</c>): the callee
    /// receives the refs themselves and becomes a borrower of them.</summary>
    public void AddValue<T>(T value)
    {
        AddSerialized(ObjectSerializer.SerializePooled(value, _worker, SerializationSite.Argument(_function.Name, _count)));
    }

    /// <summary>Submits a call with one return value.</summary>
    public ObjectRef<T> Invoke<T>()
    {
        var returns = Submit();
        return new ObjectRef<T>(returns[0], _worker.Address, _worker, addLocalReference: false);
    }

    /// <summary>Submits a call that returns nothing; the ref completes when the call finishes.</summary>
    public ObjectRef InvokeVoid()
    {
        var returns = Submit();
        return new UntypedObjectRef(returns[0], _worker.Address, _worker, addLocalReference: false);
    }

    /// <summary>Submits a call with <c>NumReturns</c> return values; read them with <see cref="ReturnRefs.At{T}"/>.</summary>
    public ReturnRefs InvokeMany() => new(Submit(), _worker);

    /// <summary>Submits a streaming generator call.</summary>
    public ObjectRefStream<T> InvokeStreaming<T>()
    {
        CheckComplete();
        try
        {
            var stream = _actor is null
                ? _worker.SubmitStreamingTask(_function, _taskOptions, _args)
                : _worker.SubmitStreamingActorTask(_actor, _function, _args);
            return new ObjectRefStream<T>(stream);
        }
        finally
        {
            ReleasePuts();
        }
    }

    /// <summary>Creates the actor and returns its handle.</summary>
    public ActorHandle<TActor> CreateActor<TActor>()
    {
        CheckComplete();
        try
        {
            var (actorId, name, owner) = _worker.CreateActor(_function, _actorOptions, _args);
            return new ActorHandle<TActor>(actorId, name, _worker, owner);
        }
        finally
        {
            ReleasePuts();
        }
    }

    private ObjectId[] Submit()
    {
        CheckComplete();
        // The returned IDs already carry one local reference each, taken before the task could finish,
        // which the ObjectRefs built from them adopt.
        try
        {
            return _actor is null
                ? _worker.SubmitTask(_function, _taskOptions, _args)
                : _worker.SubmitActorTask(_actor, _function, _args);
        }
        finally
        {
            ReleasePuts();
        }
    }

    private readonly void CheckComplete()
    {
        if (_count != _args.Length)
            throw new InvalidOperationException(
                $"{_function.Name}: {_count} of {_args.Length} arguments were added before the call was submitted.");
    }
}

/// <summary>The return refs of a call with several returns. Used by generated code.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct ReturnRefs
{
    private readonly ObjectId[] _ids;
    private readonly CoreWorker _worker;

    internal ReturnRefs(ObjectId[] ids, CoreWorker worker)
    {
        _ids = ids;
        _worker = worker;
    }

    /// <summary>Return value <paramref name="index"/> (0-based) as a typed ref. Call once per index.</summary>
    public ObjectRef<T> At<T>(int index) => new(_ids[index], _worker.Address, _worker, addLocalReference: false);
}
