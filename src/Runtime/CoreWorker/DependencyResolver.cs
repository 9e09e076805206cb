namespace RaySharp.Core;

/// <summary>
/// Waits until a task's ref arguments exist and inlines their values (Ray's <c>LocalDependencyResolver</c>); an
/// argument in the shared-memory store stays a reference that the executor maps on its node. If an argument holds
/// an error, the task is not run: it fails with that upstream error.
/// </summary>
internal sealed class DependencyResolver
{
    private readonly CoreWorker _worker;

    public DependencyResolver(CoreWorker worker) => _worker = worker;

    /// <summary>The arguments with every ref replaced by its value, or the first upstream error.</summary>
    public async ValueTask<(TaskArg[] Args, RayErrorInfo? Error)> ResolveAsync(TaskArg[] args, CancellationToken ct)
    {
        TaskArg[]? resolved = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].IsRef) continue;
            var obj = await _worker.WhenObjectAvailable(args[i].Id, args[i].Owner).WaitAsync(ct).ConfigureAwait(false);
            if (obj.Error is { } error) return (args, error);
            resolved ??= (TaskArg[])args.Clone();
            resolved[i] = obj.IsInStore
                ? TaskArg.InStore(args[i].Id, args[i].Owner!, obj.StoreNode, obj.StoreSize, obj.NestedIds)
                : TaskArg.ByValue(new SerializedObject(obj.Data!, obj.NestedIds));
        }
        return (resolved ?? args, null);
    }
}
