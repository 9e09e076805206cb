// TEMPORARY: compile-only skeleton replaced by the real CoreWorker in the next commits.
using MemoryPack;

namespace RaySharp.Core;

[MemoryPackable]
internal sealed partial record Address(WorkerId WorkerId, NodeId NodeId, string Endpoint);

internal readonly record struct SerializedObject(byte[] Data, ObjectId[] NestedIds);

internal readonly struct TaskArg
{
    public static TaskArg ByReference(ObjectId id, Address owner) => throw new NotImplementedException();
    public static TaskArg ByValue(SerializedObject value) => throw new NotImplementedException();
}

internal static class ObjectSerializer
{
    public static SerializedObject Serialize<T>(T value, CoreWorker worker) => throw new NotImplementedException();
}

internal sealed class RayObject
{
    public void ThrowIfError() => throw new NotImplementedException();
    public T GetValue<T>(CoreWorker worker) => throw new NotImplementedException();
}

internal sealed class GeneratorStream
{
    public TaskId TaskId => throw new NotImplementedException();
    public ValueTask<ObjectRef<T>?> NextAsync<T>(TimeSpan? timeout, CancellationToken ct) => throw new NotImplementedException();
}

internal sealed class ReferenceCounter
{
    public void AddLocalReference(ObjectId id) => throw new NotImplementedException();
    public void RemoveLocalReference(ObjectId id) => throw new NotImplementedException();
}

internal sealed class ActorManager
{
    public void AddHandleReference(ActorId id) => throw new NotImplementedException();
    public void RemoveHandleReference(ActorId id) => throw new NotImplementedException();
    public bool TryGetNamedActor(string name, string ns, Type type, out ActorId id) => throw new NotImplementedException();
    public void KillActor(ActorId id, bool noRestart, string reason) => throw new NotImplementedException();
}

internal static class CoreWorkerFactory
{
    public static CoreWorker StartDriver(RayOptions options) => throw new NotImplementedException();
}

internal sealed class CoreWorker : IDisposable
{
    private static CoreWorker? s_current;
    public static CoreWorker Current => s_current ?? throw new InvalidOperationException("RaySharp is not initialized: call Ray.Init() first.");
    public static void SetCurrent(CoreWorker? worker) => s_current = worker;
    public ReferenceCounter ReferenceCounter { get; } = new();
    public ActorManager ActorManager { get; } = new();
    public Address Address => throw new NotImplementedException();
    public JobId JobId => throw new NotImplementedException();
    public string Namespace => throw new NotImplementedException();
    public ObjectRef<T> Put<T>(T value) => throw new NotImplementedException();
    public RayObject GetObject(ObjectRef r, TimeSpan? timeout) => throw new NotImplementedException();
    public ValueTask<RayObject> GetObjectAsync(ObjectRef r, TimeSpan? timeout, CancellationToken ct) => throw new NotImplementedException();
    public T[] GetValues<T>(IReadOnlyList<ObjectRef<T>> refs, TimeSpan? timeout) => throw new NotImplementedException();
    public Task<T[]> GetValuesAsync<T>(ObjectRef<T>[] refs, TimeSpan? timeout, CancellationToken ct) => throw new NotImplementedException();
    public ValueTask<WaitResult<R>> Wait<R>(IReadOnlyList<R> refs, int numReturns, TimeSpan? timeout, bool fetchLocal, CancellationToken ct) where R : ObjectRef => throw new NotImplementedException();
    public void CancelTask(ObjectId id, bool force, bool recursive) => throw new NotImplementedException();
    public void ExitActor() => throw new NotImplementedException();
    public PlacementGroup CreatePlacementGroup(IReadOnlyList<IReadOnlyDictionary<string, double>> bundles, PlacementStrategy s, string? name, PlacementGroupLifetime l) => throw new NotImplementedException();
    public void RemovePlacementGroup(PlacementGroup pg) => throw new NotImplementedException();
    public PlacementGroup GetPlacementGroup(string name) => throw new NotImplementedException();
    public IReadOnlyList<NodeInfo> Nodes() => throw new NotImplementedException();
    public IReadOnlyDictionary<string, double> ClusterResources() => throw new NotImplementedException();
    public IReadOnlyDictionary<string, double> AvailableResources() => throw new NotImplementedException();
    public RuntimeContext GetRuntimeContext() => throw new NotImplementedException();
    public ObjectId[] SubmitTask(Internal.RemoteFunctionDescriptor f, TaskOptions? o, TaskArg[] args) => throw new NotImplementedException();
    public ObjectId[] SubmitActorTask(ActorHandle a, Internal.RemoteFunctionDescriptor f, TaskArg[] args) => throw new NotImplementedException();
    public GeneratorStream SubmitStreamingTask(Internal.RemoteFunctionDescriptor f, TaskOptions? o, TaskArg[] args) => throw new NotImplementedException();
    public GeneratorStream SubmitStreamingActorTask(ActorHandle a, Internal.RemoteFunctionDescriptor f, TaskArg[] args) => throw new NotImplementedException();
    public (ActorId, string?) CreateActor(Internal.RemoteFunctionDescriptor f, ActorOptions? o, TaskArg[] args) => throw new NotImplementedException();
    public void Dispose() { }
}
