using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using RaySharp.Core;
using RaySharp.Core.Gcs;
using RaySharp.Core.Rpc;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>
/// The GCS actor manager alone, with fakes for the raylets it leases from and the workers it pushes creation tasks
/// to (as Ray's gcs_actor_manager_test does): every transition of the actor state machine.
/// </summary>
public sealed class GcsActorManagerTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly NodeId Node = NodeId.FromRandom();
    private static readonly JobId Job = new(1);

    private readonly FakeRaylets _raylets = new();
    private readonly FakeWorkers _workers = new();
    private readonly GcsActorManager _manager;
    private readonly Address _owner = new(WorkerId.FromRandom(), Node, "owner");

    public GcsActorManagerTests() =>
        _manager = new GcsActorManager(_ => "raylet-a", new InMemoryGcsTableStorage(), _raylets, _workers, NullLogger<GcsActorManager>.Instance);

    public void Dispose() => _manager.Dispose();

    private WireTaskSpec Creation(string? name = null, int maxRestarts = 0, ActorLifetime lifetime = ActorLifetime.NonDetached, Address? owner = null)
    {
        var actorId = ActorId.Of(Job);
        return new WireTaskSpec
        {
            TaskId = TaskId.ForActorCreation(actorId),
            Type = TaskType.ActorCreationTask,
            JobId = Job,
            FunctionId = 1,
            FunctionName = "Counter..ctor",
            Args = [],
            Owner = owner ?? _owner,
            ActorId = actorId,
            ActorCreation = new WireActorCreation
            {
                ActorId = actorId, ClassName = "Counter", Name = name, Namespace = "ns", MaxRestarts = maxRestarts, Lifetime = lifetime,
            },
        };
    }

    /// <summary>Registers and creates the actor, and records every state it publishes.</summary>
    private (ActorId Id, Channel<ActorInfo> States) Start(WireTaskSpec creation)
    {
        var reply = _manager.Register(creation, getIfExists: false);
        Assert.Null(reply.Error);
        var states = Channel.CreateUnbounded<ActorInfo>();
        _manager.Subscribe(reply.ActorId, s => states.Writer.TryWrite(s));
        _manager.Create(creation);
        return (reply.ActorId, states);
    }

    private static async Task<ActorInfo> NextState(Channel<ActorInfo> states, ActorLifecycleState expected)
    {
        while (true)
        {
            var s = await states.Reader.ReadAsync().AsTask().WaitAsync(Wait);
            if (s.State == expected) return s;
            Assert.True(s.State < expected || expected == ActorLifecycleState.Restarting,
                $"expected {expected}, but the actor went to {s.State} ({s.DeathCause?.Message})");
        }
    }

    /// <summary>Grants the next lease request with a new worker and answers its creation push.</summary>
    private async Task<(FakeRaylets.Request Lease, Address Worker)> GrantAndConstruct(RayErrorInfo? error = null)
    {
        var lease = await _raylets.Requests.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        var worker = new Address(WorkerId.FromRandom(), Node, "worker");
        var push = _workers.Expect(worker);
        lease.Grant(worker);
        (await push.Pushed.Task.WaitAsync(Wait)).Reply.TrySetResult(new PushTaskResponse(0, [], error, error?.Kind == ErrorKind.TaskException, null));
        return (lease, worker);
    }

    [Fact]
    public async Task Create_leases_a_worker_pushes_the_constructor_and_publishes_alive()
    {
        var (id, states) = Start(Creation());
        var (lease, worker) = await GrantAndConstruct();
        var alive = await NextState(states, ActorLifecycleState.Alive);
        Assert.Equal(worker, alive.Worker);
        Assert.True(lease.Lease.IsActorCreation);
        Assert.Equal(ActorLifecycleState.Alive, _manager.Get(id)!.State);
        Assert.Empty(_raylets.Returned);
    }

    [Fact]
    public void A_name_is_unique_per_namespace_until_its_actor_dies()
    {
        var first = Creation(name: "counter");
        Start(first);
        var second = Creation(name: "counter");
        Assert.Contains("already exists", _manager.Register(second, getIfExists: false).Error);
        Assert.Equal(first.ActorId, _manager.Register(second, getIfExists: true).ActorId);
        Assert.Equal(first.ActorId, _manager.GetNamed("counter", "ns")!.ActorId);

        _manager.Kill(first.ActorId, noRestart: true, "test");
        Assert.Null(_manager.GetNamed("counter", "ns"));
        Assert.Null(_manager.Register(second, getIfExists: false).Error);
    }

    [Fact]
    public async Task A_kill_while_the_lease_is_pending_cancels_the_request_and_returns_a_late_grant()
    {
        var (id, states) = Start(Creation());
        var lease = await _raylets.Requests.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        _manager.Kill(id, noRestart: true, "killed by the test");
        var dead = await NextState(states, ActorLifecycleState.Dead);
        Assert.Contains("killed by the test", dead.DeathCause!.Message);
        Assert.True(lease.Cancellation.IsCancellationRequested);
    }

    [Fact]
    public async Task A_kill_after_the_grant_and_before_alive_returns_the_lease()
    {
        var (id, states) = Start(Creation());
        var lease = await _raylets.Requests.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        var worker = new Address(WorkerId.FromRandom(), Node, "worker");
        var push = _workers.Expect(worker);
        lease.Grant(worker);
        await push.Pushed.Task.WaitAsync(Wait);
        _manager.Kill(id, noRestart: true, "killed during creation");
        await NextState(states, ActorLifecycleState.Dead);
        Assert.Contains((lease.LeaseId, true), _raylets.Returned);
    }

    [Fact]
    public async Task A_constructor_that_throws_kills_the_actor_without_restarts()
    {
        var (_, states) = Start(Creation(maxRestarts: 3));
        var (lease, _) = await GrantAndConstruct(new RayErrorInfo
        {
            Kind = ErrorKind.TaskException, Message = "boom", RemoteMessage = "boom", TypeChain = ["System.InvalidOperationException"],
        });
        var dead = await NextState(states, ActorLifecycleState.Dead);
        Assert.Contains("constructor threw", dead.DeathCause!.Message);
        Assert.Equal(0, dead.NumRestarts);
        Assert.Contains((lease.LeaseId, true), _raylets.Returned);
    }

    [Fact]
    public async Task A_worker_that_dies_before_the_actor_started_is_replaced_without_spending_a_restart()
    {
        // A worker handed out after it died (killed while idle) never ran the constructor: the actor is scheduled again.
        var (_, states) = Start(Creation(maxRestarts: 0));
        await GrantAndConstruct(new RayErrorInfo { Kind = ErrorKind.WorkerCrashed, Message = "the process died" });
        var (_, worker) = await GrantAndConstruct();
        var alive = await NextState(states, ActorLifecycleState.Alive);
        Assert.Equal(0, alive.NumRestarts);
        Assert.Equal(worker, alive.Worker);
    }

    [Fact]
    public async Task An_actor_whose_workers_keep_dying_before_it_starts_dies_after_a_few_tries()
    {
        var (_, states) = Start(Creation(maxRestarts: 0));
        for (int i = 0; i <= GcsActorManager.MaxFailedCreations; i++)
            await GrantAndConstruct(new RayErrorInfo { Kind = ErrorKind.WorkerCrashed, Message = $"the process died ({i})" });
        var dead = await NextState(states, ActorLifecycleState.Dead);
        Assert.Contains($"the process died ({GcsActorManager.MaxFailedCreations})", dead.DeathCause!.Message);
    }

    [Fact]
    public async Task Worker_death_restarts_up_to_MaxRestarts_then_the_actor_dies()
    {
        var (_, states) = Start(Creation(maxRestarts: 1));
        var (firstLease, firstWorker) = await GrantAndConstruct();
        await NextState(states, ActorLifecycleState.Alive);

        _manager.OnWorkerDied(firstWorker.WorkerId, "killed");
        await NextState(states, ActorLifecycleState.Restarting);
        Assert.Contains((firstLease.LeaseId, true), _raylets.Returned);
        var (secondLease, secondWorker) = await GrantAndConstruct();
        Assert.Equal(1, (await NextState(states, ActorLifecycleState.Alive)).NumRestarts);
        Assert.Equal(1, _workers.Pushes[secondWorker].Task.AttemptNumber);

        _manager.OnWorkerDied(secondWorker.WorkerId, "killed again");
        var dead = await NextState(states, ActorLifecycleState.Dead);
        Assert.Contains("killed again", dead.DeathCause!.Message);
        Assert.Contains((secondLease.LeaseId, true), _raylets.Returned);
    }

    [Fact]
    public async Task The_owners_death_kills_its_actors_but_not_detached_ones()
    {
        var owner = new Address(WorkerId.FromRandom(), Node, "owner2");
        var (_, owned) = Start(Creation(owner: owner));
        var (detachedId, detached) = Start(Creation(lifetime: ActorLifetime.Detached, owner: owner));
        await GrantAndConstruct();
        await GrantAndConstruct();
        await NextState(owned, ActorLifecycleState.Alive);
        await NextState(detached, ActorLifecycleState.Alive);

        _manager.OnWorkerDied(owner.WorkerId, "the driver exited");
        Assert.Contains("owner", (await NextState(owned, ActorLifecycleState.Dead)).DeathCause!.Message);
        Assert.Equal(ActorLifecycleState.Alive, _manager.Get(detachedId)!.State);
    }

    [Fact]
    public async Task Node_death_restarts_actors_on_it_and_kills_actors_owned_from_it()
    {
        var (_, onNode) = Start(Creation(maxRestarts: 1));
        await GrantAndConstruct();
        await NextState(onNode, ActorLifecycleState.Alive);

        _manager.OnNodeDied(Node, "missed health checks");
        await NextState(onNode, ActorLifecycleState.Restarting);
        // The owner lived on the dead node too: the actor dies rather than restart for nobody.
        var dead = await NextState(onNode, ActorLifecycleState.Dead);
        Assert.Contains("owner's node", dead.DeathCause!.Message);
    }

    [Fact]
    public async Task Out_of_scope_exits_the_worker_gracefully_then_returns_the_lease()
    {
        var (id, states) = Start(Creation());
        var (lease, worker) = await GrantAndConstruct();
        await NextState(states, ActorLifecycleState.Alive);

        _manager.OnOutOfScope(id);
        Assert.Contains("references", (await NextState(states, ActorLifecycleState.Dead)).DeathCause!.Message);
        await _workers.Exited(worker).WaitAsync(Wait);
        await _raylets.WhenReturned(lease.LeaseId).WaitAsync(Wait);
    }

    [Fact]
    public async Task A_detached_actor_ignores_out_of_scope_and_dies_with_nothing_but_a_kill()
    {
        var (id, states) = Start(Creation(lifetime: ActorLifetime.Detached));
        await GrantAndConstruct();
        await NextState(states, ActorLifecycleState.Alive);
        _manager.OnOutOfScope(id);
        _manager.OnJobFinished(Job);
        Assert.Equal(ActorLifecycleState.Alive, _manager.Get(id)!.State);
        _manager.Kill(id, noRestart: true, "done");
        await NextState(states, ActorLifecycleState.Dead);
    }

    [Fact]
    public async Task The_jobs_end_kills_its_non_detached_actors()
    {
        var (_, states) = Start(Creation());
        await GrantAndConstruct();
        await NextState(states, ActorLifecycleState.Alive);
        _manager.OnJobFinished(Job);
        Assert.Contains("job", (await NextState(states, ActorLifecycleState.Dead)).DeathCause!.Message);
    }

    [Fact]
    public async Task An_unschedulable_actor_dies_as_unschedulable()
    {
        var (_, states) = Start(Creation());
        var lease = await _raylets.Requests.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        lease.Reject("no node has 64 GPUs");
        var dead = await NextState(states, ActorLifecycleState.Dead);
        Assert.Equal(ErrorKind.ActorUnschedulable, dead.DeathCause!.Kind);
        Assert.Contains("64 GPUs", dead.DeathCause.Message);
    }

    /// <summary>Raylets whose lease requests the test grants or rejects.</summary>
    private sealed class FakeRaylets : IRayletClientPool
    {
        private long _nextLease;
        private readonly ConcurrentDictionary<long, TaskCompletionSource> _returned = new();

        public Channel<Request> Requests { get; } = Channel.CreateUnbounded<Request>();
        public ConcurrentBag<(long LeaseId, bool Disconnect)> Returned { get; } = [];

        public Task<(WireLeaseReply Reply, string RayletEndpoint)> RequestWorkerLeaseAsync(string endpoint, WireLeaseRequest request, CancellationToken ct)
        {
            var r = new Request(request, Interlocked.Increment(ref _nextLease), ct);
            Requests.Writer.TryWrite(r);
            ct.Register(() => r.Reply.TrySetCanceled(ct));
            return r.Reply.Task;
        }

        public void ReturnWorker(string rayletEndpoint, long leaseId, bool disconnect)
        {
            Returned.Add((leaseId, disconnect));
            _returned.GetOrAdd(leaseId, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }

        public Task<int> ReleaseUnusedActorWorkersAsync(string rayletEndpoint, ReleaseUnusedActorWorkersRequest request, CancellationToken ct) =>
            Task.FromResult(0);

        public Task WhenReturned(long leaseId) => _returned.GetOrAdd(leaseId, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

        public sealed record Request(WireLeaseRequest Lease, long LeaseId, CancellationToken Cancellation)
        {
            public TaskCompletionSource<(WireLeaseReply, string)> Reply { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

            public void Grant(Address worker) => Reply.TrySetResult((new WireLeaseReply
            {
                Kind = LeaseReplyKind.Granted, LeaseId = LeaseId, Worker = worker, NodeId = worker.NodeId, Resources = [],
            }, "raylet-a"));

            public void Reject(string message) => Reply.TrySetException(new ActorUnschedulableException(message));
        }
    }

    /// <summary>Workers whose creation pushes the test answers.</summary>
    private sealed class FakeWorkers : ICoreWorkerClientPool
    {
        private readonly ConcurrentDictionary<WorkerId, TaskCompletionSource> _exits = new();

        public ConcurrentDictionary<Address, Push> Pushes { get; } = new();

        public Push Expect(Address worker) => Pushes.GetOrAdd(worker, _ => new Push());

        public Task<PushTaskResponse> PushCreationTaskAsync(Address worker, WireTaskSpec task, long leaseId, Dictionary<string, double> leaseResources)
        {
            var push = Expect(worker);
            push.Task = task;
            push.Pushed.TrySetResult(push);
            return push.Reply.Task;
        }

        public Task ExitAsync(Address worker, string reason)
        {
            Exited(worker);
            _exits[worker.WorkerId].TrySetResult();
            return Task.CompletedTask;
        }

        public Task Exited(Address worker) => _exits.GetOrAdd(worker.WorkerId, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

        public sealed class Push
        {
            public WireTaskSpec Task { get; set; } = null!;
            public TaskCompletionSource<Push> Pushed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
            public TaskCompletionSource<PushTaskResponse> Reply { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }
}
