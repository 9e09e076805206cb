using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RaySharp.Core.Gcs;

namespace RaySharp.Core.Rpc;

/// <summary>
/// Every call to the GCS, for every process that makes one (Ray's <c>GcsClient</c> with its node, job, actor, KV and
/// log accessors): raylets, drivers, workers and the <c>raysharp</c> CLI. The endpoint is <c>host:port</c>, a
/// <c>unix:</c> socket, or an in-process <c>inproc:</c> endpoint in local mode: the calls are the same. Deadlines and
/// keepalive come from the process's <see cref="RayConfig"/> (<c>gcs_server_request_timeout_seconds</c>,
/// <c>gcs_report_resources_timeout_ms</c>); tools that pass none get the defaults.
/// </summary>
/// <param name="endpoint">The GCS.</param>
/// <param name="config">Deadlines, keepalive and the cluster token.</param>
/// <param name="logger">Where notices nobody waits for report a failure (the process's log); none: not reported.</param>
internal sealed class GcsClient(string endpoint, RayConfig? config = null, ILogger? logger = null) : Raylet.IRayletGcsClient
{
    private readonly RayConfig _config = config ?? RayConfig.Default;
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    public string Endpoint { get; } = endpoint;

    private TimeSpan DefaultDeadline => _config.GcsRequestTimeout;

    private CallInvoker Invoker => RpcChannels.Invoker(Endpoint, _config);

    /// <summary>Whether the GCS at an endpoint keeps its tables in external storage (learned from its cluster views): a
    /// client retries calls to such a GCS while it restarts, and fails at once when the GCS is known to have none.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> s_faultTolerant = new();

    /// <summary>Records what a cluster view says of its GCS's storage.</summary>
    private ClusterView Learn(ClusterView view)
    {
        s_faultTolerant[Endpoint] = view.FaultTolerant;
        return view;
    }

    /// <summary>True while a call that found the GCS unreachable should wait for it: the GCS may be restarting (it has
    /// external storage, or this process does not know), and the reconnect timeout since the first failure has not
    /// passed.</summary>
    private bool ShouldRetry(RpcException e, long firstFailure) =>
        e.StatusCode == StatusCode.Unavailable
        && !(s_faultTolerant.TryGetValue(Endpoint, out bool ft) && !ft)
        && Environment.TickCount64 - firstFailure < (long)_config.GcsRpcServerReconnectTimeout.TotalMilliseconds;

    private static TimeSpan NextBackoff(TimeSpan backoff) => TimeSpan.FromMilliseconds(Math.Min(backoff.TotalMilliseconds * 2, 1000));

    private void LogWaiting(IMethod method, RpcException e) =>
        _logger.GcsUnanswered(Endpoint, method.Name, e.StatusCode, _config.GcsRpcServerReconnectTimeout.TotalSeconds);

    /// <summary>A call the caller waits for; an unreachable GCS is a <see cref="RayException"/> that names it. While the
    /// GCS restarts (external storage) the call is retried, with backoff, up to <c>gcs_rpc_server_reconnect_timeout_s</c>;
    /// <paramref name="retry"/> false fails at once (a first contact, a probe).</summary>
    private TResponse Call<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request, TimeSpan? deadline = null, bool retry = true)
        where TRequest : class where TResponse : class
    {
        long firstFailure = 0;
        var backoff = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                var reply = Invoker.BlockingUnaryCall(method, null, new CallOptions(deadline: DateTime.UtcNow + (deadline ?? DefaultDeadline)), request);
                if (firstFailure != 0) Stats.RayMetrics.GcsReconnects.Add(1);
                return reply;
            }
            catch (RpcException e)
            {
                if (firstFailure == 0) firstFailure = Environment.TickCount64;
                if (!retry || !ShouldRetry(e, firstFailure)) throw Unreachable(method, e, Environment.TickCount64 - firstFailure);
                if (backoff.TotalMilliseconds == 100) LogWaiting(method, e);
            }
            Thread.Sleep(backoff);
            backoff = NextBackoff(backoff);
        }
    }

    private async Task<TResponse> CallAsync<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request, CancellationToken ct,
        TimeSpan? deadline = null, bool retry = true) where TRequest : class where TResponse : class
    {
        long firstFailure = 0;
        var backoff = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                var reply = await Invoker.AsyncUnaryCall(method, null, new CallOptions(deadline: DateTime.UtcNow + (deadline ?? DefaultDeadline), cancellationToken: ct),
                    request).ResponseAsync.ConfigureAwait(false);
                if (firstFailure != 0) Stats.RayMetrics.GcsReconnects.Add(1);
                return reply;
            }
            catch (RpcException e) when (!ct.IsCancellationRequested)
            {
                if (firstFailure == 0) firstFailure = Environment.TickCount64;
                if (!retry || !ShouldRetry(e, firstFailure)) throw Unreachable(method, e, Environment.TickCount64 - firstFailure);
                if (backoff.TotalMilliseconds == 100) LogWaiting(method, e);
            }
            await Task.Delay(backoff, ct).ConfigureAwait(false);
            backoff = NextBackoff(backoff);
        }
    }

    /// <summary>How long a stream to the GCS that broke may be opened again (see <see cref="ShouldRetry"/>): true while
    /// the GCS may be restarting and <paramref name="brokenSince"/> is within the reconnect timeout.</summary>
    internal bool MayReconnect(RpcException e, long brokenSince) => ShouldRetry(e, brokenSince);

    /// <summary>As <see cref="MayReconnect(RpcException, long)"/> for a stream that broke with another error (a reset connection).</summary>
    internal bool MayReconnect(long brokenSince) =>
        !(s_faultTolerant.TryGetValue(Endpoint, out bool ft) && !ft)
        && Environment.TickCount64 - brokenSince < (long)_config.GcsRpcServerReconnectTimeout.TotalMilliseconds;

    private RayException Unreachable(IMethod method, RpcException e, long waitedMs = 0) => e.StatusCode switch
    {
        StatusCode.Unauthenticated => new($"Authentication failed: the GCS at {Endpoint} refused {method.Name}: {e.Status.Detail}", e),
        // The GCS answered and refused the request (a quota, a limit): its reason is the error.
        StatusCode.InvalidArgument or StatusCode.ResourceExhausted => new($"The GCS at {Endpoint} refused {method.Name}: {e.Status.Detail}", e),
        _ => new($"The GCS at {Endpoint} did not answer {method.Name}: {RpcErrors.Describe(e, Endpoint)}. " +
            (waitedMs >= 1000
                ? $"It did not come back within {waitedMs / 1000.0:0.#} s (gcs_rpc_server_reconnect_timeout_s = " +
                  $"{_config.GcsRpcServerReconnectTimeout.TotalSeconds:0.#}). "
                : "") +
            "Check that the cluster's head node is running and reachable" +
            // A TLS server hangs up on a client in clear text, and a clear-text server on a TLS client: say which this was.
            (_config.Tls is null ? $", and, if the cluster uses TLS, set {ClusterTls.UseVariable} and its certificates here too."
                : $", and that it uses TLS ({ClusterTls.UseVariable}) with a certificate from the same CA."), e),
    };

    /// <summary>A notice nobody waits for; a GCS that is gone is ignored (its restart re-learns the state).</summary>
    private void Fire<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request) where TRequest : class where TResponse : class =>
        RpcChannels.Fire(Invoker, method, request, _logger);

    /// <summary>A notice the GCS must not miss (a death, an exit): sent in the background and, while the GCS restarts,
    /// retried as a call is; lost only when the GCS stays away past the reconnect timeout (or has no storage).</summary>
    private void FireRetried<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request) where TRequest : class where TResponse : class =>
        _ = Task.Run(async () =>
        {
            try
            {
                await CallAsync(method, request, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                _logger.GcsRefused(Endpoint, method.Name, e.Message);
            }
        });

    // ---- Nodes ----

    public Task RegisterNodeAsync(NodeRecord node, CancellationToken ct) => CallAsync(GcsService.RegisterNodeMethod, node, ct);

    /// <summary>Reports this node's available resources; the reply is the cluster view.</summary>
    /// <remarks>Not retried: the raylet reports again on its next tick.</remarks>
    public async Task<ClusterView> ReportResourcesAsync(ResourceReport report, CancellationToken ct) =>
        Learn(await CallAsync(GcsService.ReportResourcesMethod, report, ct, _config.GcsReportResourcesTimeout, retry: false).ConfigureAwait(false));

    /// <summary>The node table; <paramref name="retry"/> false fails at once when the GCS is unreachable (a first contact,
    /// which also tells this process whether the GCS can restart).</summary>
    public ClusterView GetAllNodes(bool retry = true) => Learn(Call(GcsService.GetAllNodesMethod, Empty.Instance, retry: retry));

    public async Task<ClusterView> GetAllNodesAsync(CancellationToken ct = default) =>
        Learn(await CallAsync(GcsService.GetAllNodesMethod, Empty.Instance, ct).ConfigureAwait(false));

    public Task UnregisterNodeAsync(NodeId nodeId, string reason) =>
        RpcChannels.TryCallAsync(Invoker, GcsService.UnregisterNodeMethod, new NodeIdRequest(nodeId, reason));

    public void ReportWorkerFailure(WorkerId workerId, NodeId nodeId, string reason) =>
        FireRetried(GcsService.ReportWorkerFailureMethod, new WorkerFailureRequest(workerId, nodeId, reason));

    // ---- Jobs ----

    public JobId GetNextJobId() => Call(GcsService.GetNextJobIdMethod, Empty.Instance).JobId;

    public void AddJob(JobRecord job) => Call(GcsService.AddJobMethod, job);

    /// <summary>Marks the job finished, waiting up to <paramref name="timeout"/> (a driver shutting down must not hang).</summary>
    public void MarkJobFinished(JobId jobId, TimeSpan timeout) =>
        RpcChannels.TryCallAsync(Invoker, GcsService.MarkJobFinishedMethod, new JobIdRequest(jobId)).Wait(timeout);

    public async Task<JobRecord?> GetJobAsync(JobId jobId, CancellationToken ct) =>
        (await CallAsync(GcsService.GetJobMethod, new JobIdRequest(jobId), ct).ConfigureAwait(false)).Jobs.FirstOrDefault();

    public JobRecord[] GetAllJobs() => Call(GcsService.GetAllJobsMethod, Empty.Instance).Jobs;

    // ---- Actors ----

    public RegisterActorReply RegisterActor(WireTaskSpec creationTask, bool getIfExists) =>
        Call(GcsService.RegisterActorMethod, new RegisterActorRequest(creationTask, getIfExists));

    /// <summary>The creation task with its arguments resolved: the GCS schedules it (retried while the GCS restarts).</summary>
    public Task CreateActorAsync(WireTaskSpec resolved, CancellationToken ct) => CallAsync(GcsService.CreateActorMethod, resolved, ct);

    public ActorInfo? GetNamedActor(string name, string @namespace) =>
        Call(GcsService.GetNamedActorMethod, new NamedActorRequest(name, @namespace)).Info;

    public ActorInfo? GetActorInfo(ActorId actorId) => Call(GcsService.GetActorInfoMethod, new ActorIdRequest(actorId)).Info;

    public ActorInfo[] GetAllActors() => Call(GcsService.GetAllActorsMethod, Empty.Instance).Actors;

    public void KillActor(ActorId actorId, bool noRestart, string reason) =>
        Call(GcsService.KillActorMethod, new KillActorRequest(actorId, noRestart, reason));

    public void ReportActorOutOfScope(ActorId actorId) => FireRetried(GcsService.ReportActorOutOfScopeMethod, new ActorIdRequest(actorId));

    public void ReportActorExited(ActorId actorId, string reason) =>
        FireRetried(GcsService.ReportActorExitedMethod, new ActorExitedRequest(actorId, reason));

    /// <summary>The actor's state now and every later change, until it is dead or <paramref name="ct"/> is cancelled.</summary>
    public IAsyncEnumerable<ActorInfo> SubscribeActor(ActorId actorId, CancellationToken ct) =>
        Stream(GcsService.SubscribeActorMethod, new ActorIdRequest(actorId), ct);

    // ---- Placement groups ----

    /// <summary>Stores and queues the group; the reply's error says why the GCS refused it (a name in use).</summary>
    public CreatePlacementGroupReply CreatePlacementGroup(WirePlacementGroupSpec spec) => Call(GcsService.CreatePlacementGroupMethod, spec);

    /// <summary>Removes the group; false when the GCS knows no such group.</summary>
    public bool RemovePlacementGroup(PlacementGroupId id) => Call(GcsService.RemovePlacementGroupMethod, new PlacementGroupIdRequest(id)).Value;

    public PlacementGroupTableData? GetPlacementGroup(PlacementGroupId id) => Call(GcsService.GetPlacementGroupMethod, new PlacementGroupIdRequest(id)).Group;

    public PlacementGroupTableData? GetNamedPlacementGroup(string name, string @namespace) =>
        Call(GcsService.GetNamedPlacementGroupMethod, new NamedPlacementGroupRequest(name, @namespace)).Group;

    public PlacementGroupTableData[] GetAllPlacementGroups() => Call(GcsService.GetAllPlacementGroupsMethod, Empty.Instance).Groups;

    /// <summary>Waits on the GCS up to <paramref name="timeout"/> for the group to be created.</summary>
    public Task<WaitPlacementGroupReply> WaitPlacementGroupUntilReadyAsync(PlacementGroupId id, TimeSpan timeout, CancellationToken ct) =>
        CallAsync(GcsService.WaitPlacementGroupUntilReadyMethod, new WaitPlacementGroupRequest(id, (long)timeout.TotalMilliseconds), ct,
            timeout + DefaultDeadline);

    // ---- Internal KV ----

    public bool KvPut(string @namespace, string key, byte[] value, bool overwrite) =>
        Call(GcsService.KvPutMethod, new KvRequest(@namespace, key, value, overwrite)).Value;

    public byte[]? KvGet(string @namespace, string key) => Call(GcsService.KvGetMethod, new KvRequest(@namespace, key, null, false)).Value;

    public async Task<byte[]?> KvGetAsync(string @namespace, string key, CancellationToken ct = default) =>
        (await CallAsync(GcsService.KvGetMethod, new KvRequest(@namespace, key, null, false), ct).ConfigureAwait(false)).Value;

    public bool KvDelete(string @namespace, string key) => Call(GcsService.KvDelMethod, new KvRequest(@namespace, key, null, false)).Value;

    public string[] KvKeys(string @namespace, string prefix) => Call(GcsService.KvKeysMethod, new KvRequest(@namespace, prefix, null, false)).Keys;

    // ---- The autoscaler ----

    /// <summary>Every node with its activity and idle time, the demand queued at the raylets, and the placement groups waiting for nodes.</summary>
    public Task<ClusterResourceState> GetClusterResourceStateAsync(CancellationToken ct = default) =>
        CallAsync(GcsService.GetClusterResourceStateMethod, Empty.Instance, ct);

    /// <summary>The autoscaler's state after a pass (for <c>raysharp status</c>).</summary>
    public Task ReportAutoscalingStateAsync(AutoscalingState state, CancellationToken ct = default) =>
        CallAsync(GcsService.ReportAutoscalingStateMethod, state, ct);

    /// <summary>Drains a node: once accepted it takes no new work and waits to be removed.</summary>
    public Task<DrainNodeReply> DrainNodeAsync(DrainNodeRequest request, CancellationToken ct = default) =>
        CallAsync(GcsService.DrainNodeMethod, request, ct);

    // ---- Task events and the state API ----

    /// <summary>Sends a batch of this process's task events (not retried: the next batch reports it lost).</summary>
    public Task AddTaskEventsAsync(TaskEventBatch batch, CancellationToken ct) =>
        CallAsync(GcsService.AddTaskEventDataMethod, batch, ct, _config.GcsRequestTimeout, retry: false);

    public ListTasksReply ListTasks(ListTasksRequest request) => Call(GcsService.ListTasksMethod, request);

    public ListObjectsReply ListObjects(ListObjectsRequest request) => Call(GcsService.ListObjectsMethod, request);

    // ---- Logs ----

    public void PublishLogs(LogBatch batch) => Fire(GcsService.PublishLogsMethod, batch);

    /// <summary>Node and worker deaths as the GCS publishes them (the nodes already dead first), until <paramref name="ct"/>
    /// is cancelled or the GCS goes away.</summary>
    public IAsyncEnumerable<ClusterEvent> SubscribeClusterEvents(CancellationToken ct) => Stream(GcsService.SubscribeClusterEventsMethod, Empty.Instance, ct);

    /// <summary>The job's worker output as it is published, until <paramref name="ct"/> is cancelled.</summary>
    public IAsyncEnumerable<LogBatch> SubscribeLogs(JobId jobId, CancellationToken ct) => Stream(GcsService.SubscribeLogsMethod, new JobIdRequest(jobId), ct);

    /// <summary>Holds the driver's watch stream open until <paramref name="ct"/> fires or the GCS goes away; while it is
    /// open, the GCS knows the driver of <paramref name="jobId"/> is alive.</summary>
    public async Task WatchDriverAsync(JobId jobId, CancellationToken ct)
    {
        await foreach (var _ in Stream(GcsService.WatchDriverMethod, new JobIdRequest(jobId), ct).ConfigureAwait(false)) { }
    }

    private async IAsyncEnumerable<TResponse> Stream<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct) where TRequest : class where TResponse : class
    {
        using var call = Invoker.AsyncServerStreamingCall(method, null, new CallOptions(cancellationToken: ct), request);
        while (await call.ResponseStream.MoveNext(ct).ConfigureAwait(false)) yield return call.ResponseStream.Current;
    }
}
