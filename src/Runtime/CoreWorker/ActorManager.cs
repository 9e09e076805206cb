namespace RaySharp.Core;

/// <summary>
/// The worker's side of actors: counts handle references through the reference counter (each actor has a
/// handle object whose scope is every handle, serialized handle and pending call), reports out-of-scope
/// non-detached actors to the GCS, and answers named lookups and kills.
/// </summary>
internal sealed class ActorManager
{
    private readonly CoreWorker _worker;

    public ActorManager(CoreWorker worker) => _worker = worker;

    private IGcsActorClient Gcs => _worker.Gcs;

    /// <summary>The ID of the object that stands for an actor's handles (Ray's actor handle ID): return 1 of the
    /// actor's creation task, whose task ID has zero unique bytes.</summary>
    public static ObjectId HandleObjectId(ActorId actorId) => ObjectId.ForReturn(TaskId.ForActorCreation(actorId), 1);

    public static bool IsHandleObject(ObjectId id, out ActorId actorId)
    {
        actorId = id.TaskId.ActorId;
        return id.TaskId.IsActorCreation && id.Index == 1 && !id.IsPut;
    }

    public void AddHandleReference(ActorId id, Address? owner) => _worker.ReferenceCounter.AddLocalReference(HandleObjectId(id), owner);

    public void RemoveHandleReference(ActorId id) => _worker.ReferenceCounter.RemoveLocalReference(HandleObjectId(id));

    /// <summary>The owner's last handle is gone (borrowers included): a non-detached actor may exit.</summary>
    public void OnHandleObjectOutOfScope(ActorId actorId) => Gcs.ReportActorOutOfScope(actorId);

    public bool TryGetNamedActor(string name, string @namespace, Type type, out ActorId actorId, out Address? owner) =>
        Gcs.TryGetNamedActor(name, @namespace, out actorId, out owner);

    public void KillActor(ActorId actorId, bool noRestart, string reason)
    {
        int incarnation = _worker.ActorTaskSubmitter.Incarnation(actorId);
        Gcs.KillActor(actorId, noRestart, reason);
        _worker.ActorTaskSubmitter.OnActorKilled(actorId, incarnation);
    }
}
