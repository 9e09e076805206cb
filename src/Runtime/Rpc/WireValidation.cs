using Grpc.Core;

namespace RaySharp.Core.Rpc;

/// <summary>
/// Checks on what arrives from the wire before it touches a component's state: a record with a NaN, negative or
/// infinite resource amount, or absurd sizes, is refused at the door with <see cref="StatusCode.InvalidArgument"/>
/// and a message naming the field, so one malformed caller cannot poison the node table or a raylet's accounting.
/// </summary>
internal static class WireValidation
{
    /// <summary>More distinct resources than any real node declares.</summary>
    public const int MaxResourceKinds = 1024;

    /// <summary>Longer than any resource name, endpoint or description a RaySharp process sends.</summary>
    public const int MaxNameLength = 4096;

    /// <summary>Above any real amount (ResourceSet is fixed point at 1/10000).</summary>
    public const double MaxResourceAmount = 1e12;

    /// <param name="resources">The amounts by resource name.</param>
    /// <param name="what">Names the record and field in the error.</param>
    /// <param name="allowMissing">Null is accepted (an optional field).</param>
    /// <param name="allowNegative">Available amounts may dip below zero for a while (a blocked task's CPU lent out and
    /// taken back), as in Ray; totals and requests may not.</param>
    public static void Resources(Dictionary<string, double>? resources, string what, bool allowMissing = false, bool allowNegative = false)
    {
        if (resources is null)
        {
            if (allowMissing) return;
            throw Invalid($"{what} is missing.");
        }
        if (resources.Count > MaxResourceKinds) throw Invalid($"{what} lists {resources.Count} resources; at most {MaxResourceKinds} are accepted.");
        foreach (var (name, amount) in resources)
        {
            if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength) throw Invalid($"{what} has a resource with an empty or overlong name.");
            if (!double.IsFinite(amount) || amount > MaxResourceAmount || amount < (allowNegative ? -MaxResourceAmount : 0))
                throw Invalid($"{what} has {name} = {amount}; a resource amount must be a finite number {(allowNegative ? $"of magnitude at most {MaxResourceAmount:0e0}" : $"from 0 to {MaxResourceAmount:0e0}")}.");
        }
    }

    private static bool IsValidText(string? value, bool allowEmpty) => value is not null && (allowEmpty || value.Length > 0) && value.Length <= MaxNameLength;

    public static void Text(string? value, string what, bool allowEmpty = false)
    {
        if (value is null || (!allowEmpty && value.Length == 0)) throw Invalid($"{what} is missing.");
        if (value.Length > MaxNameLength) throw Invalid($"{what} is {value.Length} characters long; at most {MaxNameLength} are accepted.");
    }

    public static void ReleaseUnusedActorWorkers(ReleaseUnusedActorWorkersRequest request)
    {
        if (request.GcsIncarnation == 0) throw Invalid("ReleaseUnusedActorWorkers: the GCS incarnation is 0.");
        if (request.InUse is null) throw Invalid("ReleaseUnusedActorWorkers: the list of workers in use is missing.");
        if (request.InUse.Length > MaxWorkersInUse)
            throw Invalid($"ReleaseUnusedActorWorkers lists {request.InUse.Length} workers; at most {MaxWorkersInUse} are accepted.");
    }

    /// <summary>Workers a ReleaseUnusedActorWorkers request may name: more than any node runs.</summary>
    public const int MaxWorkersInUse = 100_000;

    public static void Node(NodeRecord node)
    {
        if (node.NodeId.IsNil) throw Invalid("RegisterNode: the node ID is nil.");
        Text(node.RayletEndpoint, "RegisterNode: the raylet endpoint");
        Resources(node.Total, $"RegisterNode of node {node.NodeId}: the total resources");
        Resources(node.Available, $"RegisterNode of node {node.NodeId}: the available resources", allowNegative: true);
        if (node.InstanceId is not null) Text(node.InstanceId, $"RegisterNode of node {node.NodeId}: the instance ID");
        if (node.NodeTypeName is not null) Text(node.NodeTypeName, $"RegisterNode of node {node.NodeId}: the node type");
    }

    public static void Report(ResourceReport report)
    {
        Resources(report.Available, $"ReportResources of node {report.NodeId}: the available resources", allowNegative: true);
        Resources(report.Total, $"ReportResources of node {report.NodeId}: the total resources", allowMissing: true);
        Demand(report.Demand, $"ReportResources of node {report.NodeId}");
        if (report.IdleMs < 0) throw Invalid($"ReportResources of node {report.NodeId}: the idle time is negative ({report.IdleMs} ms).");
    }

    /// <summary>A DrainNode (at the GCS) or DrainRaylet (at the raylet named <paramref name="self"/>) request.</summary>
    public static void Drain(DrainNodeRequest request, NodeId? self = null)
    {
        if (request.NodeId.IsNil) throw Invalid("DrainNode: the node ID is nil.");
        if (self is { } node && request.NodeId != node) throw Invalid($"DrainRaylet: the request names node {request.NodeId}, but this is node {node}.");
        if (!Enum.IsDefined(request.Reason)) throw Invalid($"DrainNode of node {request.NodeId}: unknown reason {(int)request.Reason}.");
        Text(request.Message, $"DrainNode of node {request.NodeId}: the message", allowEmpty: true);
    }

    /// <summary>The most demand entries a report may carry.</summary>
    public const int MaxDemandEntries = 10_000;

    public static void Demand(ResourceDemand[]? demand, string what)
    {
        if (demand is null) return;
        if (demand.Length > MaxDemandEntries) throw Invalid($"{what} lists {demand.Length} resource demands; at most {MaxDemandEntries} are accepted.");
        foreach (var d in demand)
        {
            if (d is null) throw Invalid($"{what} has a missing resource demand.");
            Resources(d.Shape, $"{what}: a resource demand's shape");
            if (d.Count <= 0) throw Invalid($"{what} has a resource demand of count {d.Count}; a count is positive.");
            if (!Enum.IsDefined(d.Kind)) throw Invalid($"{what} has a resource demand of unknown kind {(int)d.Kind}.");
        }
    }

    public static void AutoscalingState(AutoscalingState state)
    {
        const string what = "ReportAutoscalingState";
        if (state.Instances is null || state.Infeasible is null || state.InfeasibleGroups is null) throw Invalid($"{what}: a list is missing.");
        if (state.Instances.Length > MaxDemandEntries) throw Invalid($"{what} lists {state.Instances.Length} instances; at most {MaxDemandEntries} are accepted.");
        foreach (var i in state.Instances)
        {
            if (i is null) throw Invalid($"{what} has a missing instance.");
            Text(i.InstanceId, $"{what}: an instance ID");
            Text(i.NodeType, $"{what}: the node type of instance {i.InstanceId}");
            if (!Enum.IsDefined(i.Status)) throw Invalid($"{what}: instance {i.InstanceId} has unknown status {(int)i.Status}.");
        }
        Demand(state.Infeasible, $"{what}: the infeasible demand");
        if (state.InfeasibleGroups.Length > MaxDemandEntries) throw Invalid($"{what} lists too many placement groups.");
        foreach (var g in state.InfeasibleGroups)
        {
            if (g?.Bundles is null || g.Bundles.Length > MaxBundles) throw Invalid($"{what} has a placement group without bundles or with too many.");
            foreach (var b in g.Bundles) Resources(b, $"{what}: a bundle of placement group {g.Group}");
        }
        if (state.LastError is not null) Text(state.LastError, $"{what}: the last error", allowEmpty: true);
    }

    /// <summary>The most bundles a placement group may have.</summary>
    public const int MaxBundles = 10_000;

    public static void Bundles(PrepareBundlesRequest request)
    {
        if (request.Group.IsNil) throw Invalid("PrepareBundleResources: the placement group ID is nil.");
        if (request.Bundles is not { Length: > 0 and <= MaxBundles })
            throw Invalid($"PrepareBundleResources of {request.Group}: a request prepares 1 to {MaxBundles} bundles.");
        if (request.Bundles.DistinctBy(b => b.Index).Count() != request.Bundles.Length)
            throw Invalid($"PrepareBundleResources of {request.Group}: a bundle index is named twice.");
        foreach (var b in request.Bundles)
        {
            if (b.Index is < 0 or >= MaxBundles) throw Invalid($"PrepareBundleResources of {request.Group}: bundle index {b.Index} is out of range.");
            Resources(b.Resources, $"PrepareBundleResources of {request.Group}: bundle {b.Index}");
        }
    }

    public static void Bundles(BundlesRequest request, string what)
    {
        if (request.Group.IsNil) throw Invalid($"{what}: the placement group ID is nil.");
        if (request.Indices is not { Length: <= MaxBundles } || request.Indices.Any(i => i is < 0 or >= MaxBundles))
            throw Invalid($"{what} of {request.Group}: the bundle indices are missing or out of range.");
    }

    public static void PlacementGroup(WirePlacementGroupSpec spec)
    {
        if (spec.Id.IsNil) throw Invalid("CreatePlacementGroup: the placement group ID is nil.");
        if (spec.Bundles is not { Length: > 0 and <= MaxBundles })
            throw Invalid($"CreatePlacementGroup {spec.Id}: a group has 1 to {MaxBundles} bundles.");
        for (int i = 0; i < spec.Bundles.Length; i++)
        {
            Resources(spec.Bundles[i], $"CreatePlacementGroup {spec.Id}: bundle {i}");
            if (spec.Bundles[i].Count == 0 || spec.Bundles[i].Values.Any(v => v <= 0))
                throw Invalid($"CreatePlacementGroup {spec.Id}: bundle {i} is empty or has an amount that is not positive.");
        }
        if (!Enum.IsDefined(spec.Strategy)) throw Invalid($"CreatePlacementGroup {spec.Id}: unknown strategy {spec.Strategy}.");
        if (spec.Name is not null) Text(spec.Name, $"CreatePlacementGroup {spec.Id}: the name");
        Text(spec.Namespace, $"CreatePlacementGroup {spec.Id}: the namespace", allowEmpty: true);
    }

    public static void Lease(WireLeaseRequest request)
    {
        Text(request.Description, "RequestWorkerLease: the description");
        Resources(request.Resources, $"RequestWorkerLease for {request.Description}: the resources");
        Resources(request.PlacementResources, $"RequestWorkerLease for {request.Description}: the placement resources", allowMissing: true);
        Text(request.RuntimeEnvKey, $"RequestWorkerLease for {request.Description}: the runtime env key", allowEmpty: true);
        if (request.EnvVars is { Count: > MaxResourceKinds }) throw Invalid($"RequestWorkerLease for {request.Description}: {request.EnvVars.Count} env vars.");
        if (request.StoreArgs is { Length: > MaxStoreArgs })
            throw Invalid($"RequestWorkerLease for {request.Description}: {request.StoreArgs.Length} in-store arguments (at most {MaxStoreArgs}).");
        if (request.WorkingDirUri is not null && !Packaging.WorkingDirPackage.IsUri(request.WorkingDirUri))
            throw Invalid($"RequestWorkerLease for {request.Description}: the working dir is not a package URI (gcs://_ray_pkg_<hash>.zip).");
        // A grant takes the resources out of what is free after checking that the placement resources fit: resources the
        // placement does not cover would drive the node's accounting below zero.
        if (request.PlacementResources is { } placement)
            foreach (var (name, amount) in request.Resources)
                if (amount > placement.GetValueOrDefault(name))
                    throw Invalid($"RequestWorkerLease for {request.Description}: it holds {name} = {amount} but is placed with " +
                        $"{name} = {placement.GetValueOrDefault(name)}; the placement resources must cover the resources.");
        Strategy(request.Strategy, $"RequestWorkerLease for {request.Description}");
        if (request.HolderAddress is { } holder)
        {
            if (holder.WorkerId != request.Holder || request.Holder.IsNil)
                throw Invalid($"RequestWorkerLease for {request.Description}: the holder's address names worker {holder.WorkerId}, not the holder {request.Holder}.");
            Text(holder.Endpoint, $"RequestWorkerLease for {request.Description}: the holder's endpoint");
        }
    }

    public static void Strategy(WireStrategy strategy, string what)
    {
        if (strategy.BundleIndex < -1 || strategy.BundleIndex >= MaxBundles)
            throw Invalid($"{what}: bundle index {strategy.BundleIndex} is out of range (-1 for any, or 0 to {MaxBundles - 1}).");
        if (strategy.Kind == WireStrategyKind.PlacementGroup && strategy.PlacementGroup.IsNil)
            throw Invalid($"{what}: a placement-group strategy names no group.");
    }

    /// <summary>More arguments than any task is called with.</summary>
    public const int MaxTaskArgs = 100_000;

    /// <summary>A task or actor-creation spec (RegisterActor, CreateActor, and each task pushed to a worker).</summary>
    public static void TaskSpec(WireTaskSpec spec, string what)
    {
        if (spec.TaskId.IsNil) throw Invalid($"{what}: the task ID is nil.");
        what = $"{what} of task {spec.TaskId}";
        Text(spec.FunctionName, $"{what}: the function name");
        if (spec.Name is not null) Text(spec.Name, $"{what}: the name", allowEmpty: true);
        Resources(spec.Resources, $"{what}: the resources", allowMissing: true);
        Strategy(spec.Strategy, what);
        if (spec.EnvVars is { Count: > MaxResourceKinds }) throw Invalid($"{what}: {spec.EnvVars.Count} env vars.");
        if (spec.Args.Length > MaxTaskArgs) throw Invalid($"{what}: {spec.Args.Length} arguments (at most {MaxTaskArgs}).");
        if (spec.MaxRetries < -1 || spec.AttemptNumber < 0 || spec.SequenceNumber < 0)
            throw Invalid($"{what}: max retries {spec.MaxRetries}, attempt {spec.AttemptNumber}, sequence number {spec.SequenceNumber}.");
        foreach (var arg in spec.Args)
            if (arg.IsRef && arg.Owner is null) throw Invalid($"{what}: a ref argument ({arg.Id}) names no owner.");
        if (spec.ActorCreation is { } c)
        {
            Text(c.ClassName, $"{what}: the actor class");
            if (c.Name is not null) Text(c.Name, $"{what}: the actor name", allowEmpty: true);
            Text(c.Namespace, $"{what}: the actor namespace", allowEmpty: true);
            if (c.MaxConcurrency < 1 || c.MaxRestarts < -1 || c.MaxTaskRetries < -1 || c.MaxPendingCalls < -1)
                throw Invalid($"{what}: max concurrency {c.MaxConcurrency}, max restarts {c.MaxRestarts}, max task retries {c.MaxTaskRetries}, " +
                    $"max pending calls {c.MaxPendingCalls}.");
        }
    }

    private const int MaxStoreArgs = 10_000;

    /// <summary>Longest error message a task event carries (a worker cuts longer ones).</summary>
    public const int MaxErrorMessageLength = TaskEventBuffer.MaxErrorMessageLength;

    /// <summary>Most filters one list takes.</summary>
    public const int MaxFilters = 32;

    /// <summary>No attempt number, pid or time beyond these is real.</summary>
    private const int MaxAttempt = 1_000_000;
    private const long MaxTimeMs = 32_503_680_000_000; // the year 3000

    private static readonly int s_numTaskStates = Enum.GetValues<RaySharp.State.RayTaskStatus>().Length;

    public static void TaskEvents(TaskEventBatch batch)
    {
        if (batch.Events is null) throw Invalid("AddTaskEventData: the events are missing.");
        if (batch.Events.Length > RayConfig.MaxTaskEventsPerBatch)
            throw Invalid($"AddTaskEventData: {batch.Events.Length} events in one batch; at most {RayConfig.MaxTaskEventsPerBatch} are accepted.");
        if (batch.NumDropped < 0) throw Invalid($"AddTaskEventData: the dropped count is {batch.NumDropped}.");
        foreach (var e in batch.Events)
        {
            if (e is null || e.TaskId.IsNil) throw Invalid("AddTaskEventData: an event has no task ID.");
            // Thousands of events a second arrive here: the message naming the task is formatted only for a bad one.
            string What() => $"AddTaskEventData: the event of task {e.TaskId}";
            if (e.Attempt is < 0 or > MaxAttempt) throw Invalid($"{What()} has attempt number {e.Attempt}.");
            if (!Enum.IsDefined(e.State)) throw Invalid($"{What()} has unknown state {(int)e.State}.");
            if (e.TimeMs is <= 0 or > MaxTimeMs) throw Invalid($"{What()} has time {e.TimeMs} ms.");
            if (e.StateTimesMs is { } times)
            {
                if (times.Length != s_numTaskStates) throw Invalid($"{What()} has {times.Length} state times (expected {s_numTaskStates}).");
                foreach (long t in times)
                    if (t is < 0 or > MaxTimeMs) throw Invalid($"{What()} has a state time of {t} ms.");
            }
            if (e.WorkerPid < 0) throw Invalid($"{What()} has pid {e.WorkerPid}.");
            if (e.ErrorType is not null && !IsValidText(e.ErrorType, allowEmpty: false)) Text(e.ErrorType, $"{What()}: the error type");
            if (e.ErrorMessage is { Length: > MaxErrorMessageLength })
                throw Invalid($"{What()}: the error message is {e.ErrorMessage.Length} characters long; at most {MaxErrorMessageLength} are accepted.");
            if (e.Info is { } info)
            {
                if (!IsValidText(info.Name, allowEmpty: true)) Text(info.Name, $"{What()}: the name", allowEmpty: true);
                if (!IsValidText(info.FuncOrClassName, allowEmpty: true)) Text(info.FuncOrClassName, $"{What()}: the function name", allowEmpty: true);
                if (!Enum.IsDefined(info.Type)) throw Invalid($"{What()} has unknown task type {(int)info.Type}.");
                try
                {
                    Resources(info.RequiredResources, "the required resources", allowMissing: true);
                }
                catch (RpcException)
                {
                    Resources(info.RequiredResources, $"{What()}: the required resources", allowMissing: true); // the same check, naming the task
                    throw;
                }
            }
        }
    }

    public static void Filters(WireStateFilter[]? filters, string what)
    {
        if (filters is null) throw Invalid($"{what}: the filters are missing.");
        if (filters.Length > MaxFilters) throw Invalid($"{what}: {filters.Length} filters; at most {MaxFilters} are accepted.");
        foreach (var f in filters)
        {
            if (f is null) throw Invalid($"{what}: a filter is missing.");
            Text(f.Key, $"{what}: a filter's key");
            Text(f.Value, $"{what}: the value of filter {f.Key}", allowEmpty: true);
        }
    }

    public static void Limit(int limit, int max, string what)
    {
        if (limit < 1 || limit > max) throw Invalid($"{what}: the limit is {limit}; it must be from 1 to {max}.");
    }

    /// <summary>A core worker's reference table as a raylet or driver returned it.</summary>
    public static void ObjectRefs(CoreWorkerObjects w, int limit)
    {
        if (w is null || w.WorkerId.IsNil) throw Invalid("GetObjectRefs: a reply names no worker.");
        if (w.Objects is null || w.Objects.Length > limit || w.Total < w.Objects.Length || w.Pid < 0)
            throw Invalid($"GetObjectRefs: worker {w.WorkerId} replied with {w.Objects?.Length} references of {w.Total} (at most {limit} asked).");
        Text(w.Endpoint, $"GetObjectRefs: the endpoint of worker {w.WorkerId}", allowEmpty: true);
        foreach (var o in w.Objects)
            if (o is null || !Enum.IsDefined(o.ReferenceType) || o.TaskStatus is { } s && !Enum.IsDefined(s) || o.Local < 0 || o.Submitted < 0
                || o.ContainedIn < 0 || o.Borrowers < 0)
                throw Invalid($"GetObjectRefs: worker {w.WorkerId} replied with a malformed reference.");
    }

    public static void ObjectRefs(NodeObjectRefsReply reply)
    {
        if (reply.Workers is null || reply.Unreachable is null || reply.Workers.Length > MaxWorkersPerNode || reply.Unreachable.Length > MaxWorkersPerNode)
            throw Invalid("GetObjectRefs: a raylet's reply is missing its lists or is too long.");
        foreach (var u in reply.Unreachable) Text(u, "GetObjectRefs: an unreachable worker", allowEmpty: true);
    }

    /// <summary>More workers than any node runs.</summary>
    private const int MaxWorkersPerNode = 100_000;

    internal static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));
}
