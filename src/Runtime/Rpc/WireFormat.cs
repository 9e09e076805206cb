using RaySharp.Internal;

namespace RaySharp.Core.Rpc;

/// <summary>Converts the core worker's in-memory types to and from their wire messages.</summary>
internal static class WireFormat
{
    public static WireObject ToWire(this RayObject obj) => new(obj.Data, obj.Error, obj.NestedIds, obj.StoreNode, obj.StoreSize);

    public static RayObject FromWire(this WireObject obj) =>
        obj.Error is { } error ? RayObject.FromError(error)
        : !obj.StoreNode.IsNil ? RayObject.InStore(obj.StoreNode, obj.StoreSize, obj.NestedIds)
        : RayObject.FromValue(new SerializedObject(obj.Data ?? [], obj.NestedIds));

    public static Dictionary<string, double> ToWire(this ResourceSet resources) => resources.ToDictionary();

    /// <summary>What a node reported free: an amount below zero (a blocked task that took its CPU back while another
    /// used it) counts as nothing free.</summary>
    public static ResourceSet FromWireAvailable(this Dictionary<string, double>? available) =>
        available is null || available.Count == 0 ? ResourceSet.Empty
        : ResourceSet.From(available.Where(kv => kv.Value > 0));

    public static ResourceSet FromWire(this Dictionary<string, double>? resources) =>
        resources is null || resources.Count == 0 ? ResourceSet.Empty : ResourceSet.From(resources);

    public static WireStrategy ToWire(this SchedulingStrategy strategy) => strategy switch
    {
        SpreadSchedulingStrategy => WireStrategy.Spread,
        NodeAffinitySchedulingStrategy a => new(WireStrategyKind.NodeAffinity, a.NodeId, a.Soft),
        PlacementGroupSchedulingStrategy pg => new(WireStrategyKind.PlacementGroup, default, false, pg.PlacementGroup.Id, pg.BundleIndex, pg.CaptureChildTasks),
        _ => WireStrategy.Default,
    };

    public static SchedulingStrategy FromWire(this WireStrategy strategy) => strategy.Kind switch
    {
        WireStrategyKind.Spread => SchedulingStrategy.Spread,
        WireStrategyKind.NodeAffinity => new NodeAffinitySchedulingStrategy(strategy.NodeId, strategy.Soft),
        WireStrategyKind.PlacementGroup => new PlacementGroupSchedulingStrategy(CoreWorker.PlacementGroupHandle(strategy.PlacementGroup), strategy.BundleIndex,
            strategy.CaptureChildTasks),
        _ => SchedulingStrategy.Default,
    };

    public static WireTaskSpec ToWire(this TaskSpec spec, JobId jobId) => new()
    {
        TaskId = spec.TaskId,
        Type = spec.Type,
        JobId = jobId,
        FunctionId = spec.Function.FunctionId,
        FunctionName = spec.Function.Name,
        Args = Array.ConvertAll(spec.Args, a => a.IsRef ? new WireArg(true, a.Id, a.Owner, null, [])
            : a.IsInStore ? new WireArg(false, a.Id, a.Owner, null, a.Value.NestedIds, a.StoreNode, a.StoreSize)
            : new WireArg(false, default, null, a.Value.Data, a.Value.NestedIds)),
        Owner = spec.Owner,
        ParentTaskId = spec.ParentTaskId,
        Resources = spec.Resources.IsEmpty ? null : spec.Resources.SharedWireDictionary,
        Strategy = spec.Strategy.ToWire(),
        EnvVars = spec.RuntimeEnv?.EnvVars is { Count: > 0 } env ? new Dictionary<string, string>(env) : null,
        WorkingDir = spec.RuntimeEnv?.WorkingDir,
        MaxRetries = spec.MaxRetries,
        RetryExceptions = spec.RetryExceptions,
        Name = spec.Name,
        EnableTaskEvents = spec.EnableTaskEvents,
        ActorId = spec.ActorId,
        SequenceNumber = spec.SequenceNumber,
        AttemptNumber = spec.AttemptNumber,
        ActorCreation = spec.ActorCreation is { } c ? new WireActorCreation
        {
            ActorId = c.ActorId,
            ClassName = c.Class.Name,
            Name = c.Name,
            Namespace = c.Namespace,
            Lifetime = c.Lifetime,
            MaxRestarts = c.MaxRestarts,
            MaxTaskRetries = c.MaxTaskRetries,
            MaxConcurrency = c.MaxConcurrency,
            MaxPendingCalls = c.MaxPendingCalls,
            UsesDefaultCpus = c.UsesDefaultCpus,
            EnableTaskEvents = c.EnableTaskEvents,
        } : null,
        TraceParent = spec.TraceParent,
        TraceState = spec.TraceState,
    };

    /// <summary>The task as the worker that runs it needs it: the function resolved in this process's registry.</summary>
    public static TaskSpec FromWire(this WireTaskSpec w)
    {
        var function = FunctionRegistry.Get(w.FunctionId, w.FunctionName);
        return new TaskSpec
        {
            TaskId = w.TaskId,
            Type = w.Type,
            Function = function,
            Args = Array.ConvertAll(w.Args, a => a.IsRef ? TaskArg.ByReference(a.Id, a.Owner!)
                : !a.StoreNode.IsNil ? TaskArg.InStore(a.Id, a.Owner ?? throw new InvalidDataException(
                    $"Task {w.TaskId}: an in-store argument ({a.Id}) names no owner."), a.StoreNode, a.StoreSize, a.NestedIds)
                : TaskArg.ByValue(new SerializedObject(a.Data ?? [], a.NestedIds))),
            Owner = w.Owner,
            ParentTaskId = w.ParentTaskId,
            Resources = w.Resources.FromWire(),
            Strategy = w.Strategy.FromWire(),
            RuntimeEnv = w.EnvVars is null && w.WorkingDir is null ? null : new RuntimeEnv { EnvVars = w.EnvVars, WorkingDir = w.WorkingDir },
            MaxRetries = w.MaxRetries,
            RetryExceptions = w.RetryExceptions,
            Name = w.Name,
            EnableTaskEvents = w.EnableTaskEvents,
            ActorId = w.ActorId,
            SequenceNumber = w.SequenceNumber,
            AttemptNumber = w.AttemptNumber,
            ActorCreation = w.ActorCreation is { } c ? FromWire(c, function) : null,
            TraceParent = w.TraceParent,
            TraceState = w.TraceState,
        };
    }

    public static ActorCreationSpec FromWire(WireActorCreation c, RemoteFunctionDescriptor constructor) => new()
    {
        ActorId = c.ActorId,
        Class = constructor.ActorClass ?? throw new InvalidOperationException($"{constructor.Name} is not an actor constructor."),
        Name = c.Name,
        Namespace = c.Namespace,
        Lifetime = c.Lifetime,
        MaxRestarts = c.MaxRestarts,
        MaxTaskRetries = c.MaxTaskRetries,
        MaxConcurrency = c.MaxConcurrency,
        MaxPendingCalls = c.MaxPendingCalls,
        UsesDefaultCpus = c.UsesDefaultCpus,
        EnableTaskEvents = c.EnableTaskEvents,
    };

    public static WireLeaseRequest ToWire(this LeaseRequest r, JobId jobId, Dictionary<string, string>? envVars) => new()
    {
        JobId = jobId,
        Resources = r.Resources.ToWire(),
        PlacementResources = r.PlacementResources?.ToWire(),
        Strategy = r.Strategy.ToWire(),
        RuntimeEnvKey = r.RuntimeEnvKey,
        EnvVars = envVars,
        IsActorCreation = r.IsActorCreation,
        Description = r.Description,
        StoreArgs = r.StoreArgs is { Count: > 0 } args ? [.. args.Select(a => new WireStoreArg(a.Id, a.Node))] : null,
        WorkingDirUri = r.WorkingDirUri,
    };

    /// <summary>The pool key of a task's runtime env, computed from its wire form (the GCS has no TaskSpec).</summary>
    public static string RuntimeEnvKey(Dictionary<string, string>? envVars, string? workingDir) =>
        (envVars is null || envVars.Count == 0) && workingDir is null
            ? ""
            : string.Join(";", (envVars ?? []).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key + "=" + kv.Value)) + "|" + workingDir;
}
