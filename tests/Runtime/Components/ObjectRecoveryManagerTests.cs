using System.Collections.Concurrent;
using RaySharp.Core;
using Xunit;
using static RaySharp.Tests.Components.ComponentHarness;

namespace RaySharp.Tests.Components;

/// <summary>The owner's recovery of objects whose copies are lost (Ray's <c>ObjectRecoveryManager</c>), over a fake raylet
/// that says which nodes are dead and a fake worker that runs the tasks sent again: what is rebuilt, how often, and
/// what fails with which reason.</summary>
public sealed class ObjectRecoveryManagerTests : IDisposable
{
    private readonly NodeId _nodeA = NodeId.FromRandom();
    private readonly NodeId _nodeB = NodeId.FromRandom();
    private readonly FakeRaylet _raylet = new() { GrantImmediately = true };
    private readonly CoreWorker _worker;

    /// <summary>Tasks pushed to the fake worker, in order.</summary>
    private readonly ConcurrentQueue<TaskId> _runs = new();

    public ObjectRecoveryManagerTests() : this(new RayConfig()) { }

    private ObjectRecoveryManagerTests(RayConfig config)
    {
        _worker = NewWorker(_raylet, config: config);
        // Every task run again writes its return to node B's store.
        _raylet.Worker.Handler = spec =>
        {
            _runs.Enqueue(spec.TaskId);
            return Task.FromResult(InStore(_nodeB));
        };
    }

    public void Dispose() => _worker.Dispose();

    private ObjectRecoveryManager Recovery => _worker.Recovery;

    private static PushTaskReply InStore(NodeId node) => new([RayObject.InStore(node, 8 << 20, [])], null, false);

    /// <summary>A task that finished with its return in <paramref name="node"/>'s store (the caller holds the ref).</summary>
    private TaskSpec FinishedOn(NodeId node, int maxRetries = 3, TaskArg[]? args = null)
    {
        var spec = NormalTask(_worker, maxRetries: maxRetries, args: args);
        var entry = _worker.TaskManager.AddPendingTask(spec, maxRetries);
        Assert.False(_worker.TaskManager.HandleReply(entry, InStore(node)));
        return spec;
    }

    private RayObject Value(ObjectId id)
    {
        Assert.True(_worker.MemoryStore.TryGet(id, out var value));
        return value;
    }

    private static async Task<RayObject> Within(Task<RayObject> recovery) => await recovery.WaitAsync(ComponentHarness.Timeout);

    [Fact]
    public async Task A_copy_whose_node_is_alive_is_not_lost_and_nothing_runs_again()
    {
        var spec = FinishedOn(_nodeA);
        var copy = Value(spec.ReturnId(0));

        Assert.Same(copy, await Within(Recovery.RecoverAsync(spec.ReturnId(0), copy)));

        Assert.Empty(_runs);
        Assert.Same(copy, Value(spec.ReturnId(0)));
    }

    [Fact]
    public async Task An_object_whose_only_copy_died_is_rebuilt_by_running_its_task_once_for_all_its_readers()
    {
        var spec = FinishedOn(_nodeA);
        var id = spec.ReturnId(0);
        var lost = Value(id);
        _raylet.KillNode(_nodeA);

        var readers = Enumerable.Range(0, 5).Select(_ => Recovery.RecoverAsync(id, lost)).ToArray();
        var results = await Task.WhenAll(readers).WaitAsync(ComponentHarness.Timeout);

        Assert.All(results, r => Assert.Equal(_nodeB, r.StoreNode));
        Assert.Equal(new[] { spec.TaskId }, _runs);
        Assert.Equal(1, Recovery.Resubmissions);
        Assert.Equal(_nodeB, Value(id).StoreNode);
        // A reader that still holds the lost copy reads the rebuilt one; nothing runs again.
        Assert.Equal(_nodeB, (await Within(Recovery.RecoverAsync(id, lost))).StoreNode);
        Assert.Single(_runs);
        Assert.Equal(0, _worker.TaskManager.NumPendingTasks);
    }

    [Fact]
    public async Task A_copy_on_another_live_node_is_read_instead_of_running_the_task_again()
    {
        var spec = FinishedOn(_nodeA);
        var id = spec.ReturnId(0);
        Assert.True(_worker.AddObjectLocation(id, _nodeB));
        _raylet.KillNode(_nodeA);

        var recovered = await Within(Recovery.RecoverAsync(id, Value(id)));

        Assert.Equal(_nodeB, recovered.StoreNode);
        Assert.Empty(_runs);
    }

    [Fact]
    public async Task An_object_made_by_Put_whose_node_died_fails_with_ObjectReconstructionFailedException()
    {
        var id = ObjectId.ForPut(_worker.DriverTaskId, 1000);
        _worker.ReferenceCounter.AddOwnedObject(id, _worker.Address);
        _worker.MemoryStore.Put(id, RayObject.InStore(_nodeA, 8 << 20, []));
        _raylet.KillNode(_nodeA);

        var result = await Within(Recovery.RecoverAsync(id, Value(id)));

        var e = Assert.Throws<ObjectReconstructionFailedException>(result.ThrowIfError);
        Assert.Equal(id, e.ObjectId);
        Assert.Contains("put by the driver", e.Message);
        Assert.Contains(_nodeA.ToString(), e.Message);
        // Every later reader gets the error at once.
        Assert.Throws<ObjectReconstructionFailedException>(Value(id).ThrowIfError);
        Assert.Empty(_runs);
    }

    [Fact]
    public async Task The_output_of_a_task_with_MaxRetries_0_is_not_rebuilt()
    {
        var spec = FinishedOn(_nodeA, maxRetries: 0);
        _raylet.KillNode(_nodeA);

        var result = await Within(Recovery.RecoverAsync(spec.ReturnId(0), Value(spec.ReturnId(0))));

        var e = Assert.Throws<ObjectReconstructionFailedException>(result.ThrowIfError);
        Assert.Contains("MaxRetries = 0", e.Message);
        Assert.Contains(_nodeA.ToString(), e.Message);
        Assert.Empty(_runs);
    }

    [Fact]
    public async Task Rebuilding_counts_against_the_tasks_MaxRetries()
    {
        var spec = FinishedOn(_nodeA, maxRetries: 1);
        var id = spec.ReturnId(0);
        _raylet.KillNode(_nodeA);
        Assert.Equal(_nodeB, (await Within(Recovery.RecoverAsync(id, Value(id)))).StoreNode);

        _raylet.KillNode(_nodeB);
        var again = await Within(Recovery.RecoverAsync(id, Value(id)));

        var e = Assert.Throws<ObjectReconstructionFailedException>(again.ThrowIfError);
        Assert.Contains("no retries left", e.Message);
        Assert.Single(_runs);
    }

    [Fact]
    public async Task An_output_whose_lineage_was_evicted_fails_naming_max_lineage_bytes()
    {
        using var tests = new ObjectRecoveryManagerTests(new RayConfig { MaxLineageBytes = 0 });
        var spec = tests.FinishedOn(tests._nodeA);
        tests._raylet.KillNode(tests._nodeA);

        var result = await Within(tests.Recovery.RecoverAsync(spec.ReturnId(0), tests.Value(spec.ReturnId(0))));

        var e = Assert.Throws<ObjectReconstructionFailedException>(result.ThrowIfError);
        Assert.Contains("evicted", e.Message);
        Assert.Contains("RAY_max_lineage_bytes", e.Message);
        Assert.Empty(tests._runs);
    }

    [Fact]
    public async Task A_lost_argument_released_since_is_rebuilt_first_then_the_task_that_took_it()
    {
        var a = FinishedOn(_nodeA);
        var b = FinishedOn(_nodeA, args: [TaskArg.ByReference(a.ReturnId(0), _worker.Address)]);
        _worker.ReferenceCounter.RemoveLocalReference(a.ReturnId(0)); // only b's lineage needs a now
        Assert.False(_worker.MemoryStore.Contains(a.ReturnId(0)));
        _raylet.KillNode(_nodeA);

        var rebuilt = await Within(Recovery.RecoverAsync(b.ReturnId(0), Value(b.ReturnId(0))));

        Assert.Equal(_nodeB, rebuilt.StoreNode);
        Assert.Equal(new[] { a.TaskId, b.TaskId }, _runs);
        Assert.Equal(2, Recovery.Resubmissions);
        // b ran with a's rebuilt copy.
        var pushed = _raylet.Worker.Pushed.Last();
        Assert.Equal(b.TaskId, pushed.TaskId);
        Assert.True(pushed.Args[0].IsInStore);
        Assert.Equal(_nodeB, pushed.Args[0].StoreNode);
        // Done, a is released again; its lineage stays while b's is kept.
        Assert.False(_worker.ReferenceCounter.IsInScope(a.ReturnId(0)));
        Assert.True(_worker.TaskManager.TryGetLineage(a.TaskId, out var aSpec, out _));
        Assert.NotNull(aSpec);
    }

    [Fact]
    public async Task A_task_whose_argument_copy_was_lost_under_it_runs_again_once_the_argument_is_rebuilt()
    {
        var a = FinishedOn(_nodeA);
        var c = NormalTask(_worker, maxRetries: 0, args: [TaskArg.ByReference(a.ReturnId(0), _worker.Address)]);
        int cRuns = 0;
        _raylet.Worker.Handler = spec =>
        {
            _runs.Enqueue(spec.TaskId);
            if (spec.TaskId != c.TaskId) return Task.FromResult(InStore(_nodeB));
            // The first run finds a's copy gone, as an executor that cannot map its argument reports it.
            return Task.FromResult(Interlocked.Increment(ref cRuns) == 1
                ? new PushTaskReply([], new RayErrorInfo { Kind = ErrorKind.ObjectLost, ObjectId = a.ReturnId(0), Message = "no copy" }, true)
                : Ok(7));
        };
        _raylet.KillNode(_nodeA);

        var entry = _worker.TaskManager.AddPendingTask(c, maxRetries: 0);
        _worker.NormalTaskSubmitter.Submit(entry);

        Assert.Equal(7, ValueOf(await Result(_worker, c)));
        Assert.Equal(new[] { c.TaskId, a.TaskId, c.TaskId }, _runs);
        Assert.Equal(_nodeB, Value(a.ReturnId(0)).StoreNode);
    }

    [Fact]
    public async Task A_borrower_that_could_not_read_a_copy_is_served_the_rebuilt_one()
    {
        var spec = FinishedOn(_nodeA);
        var id = spec.ReturnId(0);

        // A borrower that read it fine is served what is there, with no recovery.
        Assert.Equal(_nodeA, (await _worker.ServeObjectAsync(id, default, CancellationToken.None)).StoreNode);
        _raylet.KillNode(_nodeA);
        var served = await _worker.ServeObjectAsync(id, _nodeA, CancellationToken.None).WaitAsync(ComponentHarness.Timeout);

        Assert.Equal(_nodeB, served.StoreNode);
        Assert.Equal(new[] { spec.TaskId }, _runs);
    }
}
