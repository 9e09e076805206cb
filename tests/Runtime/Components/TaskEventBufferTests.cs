using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using RaySharp.Core;
using RaySharp.State;
using Xunit;
using static RaySharp.Tests.Components.ComponentHarness;

namespace RaySharp.Tests.Components;

/// <summary>A process's task-event buffer with a fake GCS behind it, and what the submit and execute paths record in it.</summary>
public sealed class TaskEventBufferTests
{
    private sealed class FakeSink : ITaskEventSink
    {
        public Channel<TaskEventBatch> Batches { get; } = Channel.CreateUnbounded<TaskEventBatch>();
        public int FailNext;

        public Task SendAsync(TaskEventBatch batch, CancellationToken ct)
        {
            if (Interlocked.Exchange(ref FailNext, 0) == 1) return Task.FromException(new InvalidOperationException("the GCS is away"));
            Batches.Writer.TryWrite(batch);
            return Task.CompletedTask;
        }

        public async Task<TaskEventBatch> Next() => await Batches.Reader.ReadAsync().AsTask().WaitAsync(ComponentHarness.Timeout);
    }

    /// <summary>An interval no test waits for: batches go out when the test flushes.</summary>
    private static readonly TimeSpan Never = TimeSpan.FromHours(1);

    private static TaskEventBuffer Buffer(FakeSink sink, TimeSpan? interval = null, int max = 1000, int batch = 1000) =>
        new(sink, WorkerId.FromRandom(), interval ?? Never, max, batch, NullLogger<TaskEventBuffer>.Instance);

    private static CoreWorker WorkerWithEvents(FakeRaylet raylet, FakeSink sink, RayConfig? config = null) =>
        new(new JobId(4242), "events", null, config ?? new RayConfig { TaskEventsReportInterval = Never }, NullLoggerFactory.Instance,
            _ => new WorkerConnections(raylet, new FakeGcs(), "fake", TaskEvents: sink));

    [Fact]
    public async Task Events_go_to_the_gcs_in_a_batch_on_each_interval()
    {
        var sink = new FakeSink();
        await using var buffer = Buffer(sink, TimeSpan.FromMilliseconds(20));
        using var worker = NewWorker();
        var spec = NormalTask(worker, "Tests.Sent");
        buffer.Record(spec, 0, RayTaskStatus.PendingArgsAvail, withInfo: true);
        buffer.Record(spec, 0, RayTaskStatus.Finished);

        var events = (await sink.Next()).Events;
        // Both changes of the attempt travel as one record, which says when each state was reached.
        var record = Assert.Single(events);
        Assert.Equal(spec.TaskId, record.TaskId);
        Assert.Equal([(0, RayTaskStatus.PendingArgsAvail), (0, RayTaskStatus.Finished)], Expand(events));
        Assert.Equal(RayTaskStatus.Finished, record.State);
        Assert.Equal("Tests.Sent", record.Info!.Name);
        Assert.Equal(worker.JobId, record.Info!.JobId);
    }

    [Fact]
    public async Task An_event_after_a_quiet_spell_wakes_the_loop_and_goes_out_too()
    {
        var sink = new FakeSink();
        await using var buffer = Buffer(sink, TimeSpan.FromMilliseconds(10));
        using var worker = NewWorker();
        var first = NormalTask(worker, "Tests.First");
        buffer.Record(first, 0, RayTaskStatus.Finished, withInfo: true);
        Assert.Equal(first.TaskId, Assert.Single((await sink.Next()).Events).TaskId);
        // Nothing is held now: the loop waits for the next event rather than ticking.
        var second = NormalTask(worker, "Tests.Second");
        buffer.Record(second, 0, RayTaskStatus.Finished, withInfo: true);
        Assert.Equal(second.TaskId, Assert.Single((await sink.Next()).Events).TaskId);
        Assert.False(sink.Batches.Reader.TryRead(out _)); // one batch per event, nothing else
    }

    [Fact]
    public async Task A_task_with_task_events_off_records_nothing()
    {
        var sink = new FakeSink();
        await using var buffer = Buffer(sink);
        using var worker = NewWorker();
        var quiet = NormalTask(worker, "Tests.Quiet", enableTaskEvents: false);
        buffer.Record(quiet, 0, RayTaskStatus.PendingArgsAvail, withInfo: true);
        buffer.Record(quiet, 0, RayTaskStatus.Finished);
        Assert.Equal(0, buffer.Count);
        // A retry's spec keeps the setting.
        buffer.Record(quiet.WithArgs([], attemptNumber: 1), 1, RayTaskStatus.PendingArgsAvail, withInfo: true);
        Assert.Equal(0, buffer.Count);

        var listed = NormalTask(worker, "Tests.Listed");
        buffer.Record(listed, 0, RayTaskStatus.Finished, withInfo: true);
        await buffer.FlushAsync(CancellationToken.None);
        Assert.Equal(listed.TaskId, Assert.Single((await sink.Next()).Events).TaskId);
    }

    /// <summary>The (attempt, state) changes the records report, in the order of the states.</summary>
    private static List<(int Attempt, RayTaskStatus State)> Expand(IEnumerable<TaskEventData> records)
    {
        var changes = new List<(int, RayTaskStatus)>();
        foreach (var r in records)
        {
            if (r.StateTimesMs is not { } times)
            {
                changes.Add((r.Attempt, r.State));
                continue;
            }
            for (int s = 0; s < times.Length; s++)
                if (times[s] > 0) changes.Add((r.Attempt, (RayTaskStatus)s));
        }
        return changes;
    }

    /// <summary>A GCS that takes a batch only when the test lets it (or the sender gives up).</summary>
    private sealed class SlowSink : ITaskEventSink
    {
        public TaskCompletionSource Sending { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public List<TaskEventBatch> Taken { get; } = [];

        public async Task SendAsync(TaskEventBatch batch, CancellationToken ct)
        {
            Sending.TrySetResult();
            await Release.Task.WaitAsync(ct);
            lock (Taken) Taken.Add(batch);
        }
    }

    [Fact]
    public async Task A_batch_in_flight_when_the_process_stops_is_delivered_not_cut_off()
    {
        var sink = new SlowSink();
        var buffer = new TaskEventBuffer(sink, WorkerId.FromRandom(), TimeSpan.FromMilliseconds(10), 1000, 1000, NullLogger<TaskEventBuffer>.Instance);
        using var worker = NewWorker();
        var spec = NormalTask(worker, "Tests.InFlight");
        buffer.Record(spec, 0, RayTaskStatus.Finished, withInfo: true);
        await sink.Sending.Task.WaitAsync(ComponentHarness.Timeout); // the loop is sending it now

        var stopping = buffer.StopAsync(ComponentHarness.Timeout);
        Assert.False(stopping.IsCompleted); // it waits for the send in flight...
        sink.Release.SetResult();
        await stopping.WaitAsync(ComponentHarness.Timeout);

        var batch = Assert.Single(sink.Taken); // ...which arrives whole
        Assert.Equal(spec.TaskId, Assert.Single(batch.Events).TaskId);
        Assert.Equal(0, batch.NumDropped);
    }

    [Fact]
    public async Task A_full_buffer_drops_its_oldest_events_and_the_next_batch_says_how_many()
    {
        var sink = new FakeSink();
        await using var buffer = Buffer(sink, max: 4);
        using var worker = NewWorker();
        var specs = Enumerable.Range(0, 6).Select(_ => NormalTask(worker)).ToList();
        foreach (var s in specs) buffer.Record(s, 0, RayTaskStatus.PendingArgsAvail);
        Assert.Equal(4, buffer.Count);

        await buffer.FlushAsync(CancellationToken.None);
        var batch = await sink.Next();
        Assert.Equal(2, batch.NumDropped);
        Assert.Equal(specs.Skip(2).Select(s => s.TaskId), batch.Events.Select(e => e.TaskId));
    }

    [Fact]
    public async Task Batches_hold_at_most_the_batch_size_and_a_failed_send_is_counted_as_dropped()
    {
        var sink = new FakeSink();
        await using var buffer = Buffer(sink, batch: 2);
        using var worker = NewWorker();
        for (int i = 0; i < 5; i++) buffer.Record(NormalTask(worker), 0, RayTaskStatus.Running);

        await buffer.FlushAsync(CancellationToken.None);
        var sizes = new List<int>();
        for (int i = 0; i < 3; i++) sizes.Add((await sink.Next()).Events.Length);
        Assert.Equal([2, 2, 1], sizes);

        buffer.Record(NormalTask(worker), 0, RayTaskStatus.Running);
        sink.FailNext = 1;
        await buffer.FlushAsync(CancellationToken.None);
        buffer.Record(NormalTask(worker), 0, RayTaskStatus.Finished);
        await buffer.FlushAsync(CancellationToken.None);
        var after = await sink.Next();
        Assert.Equal(1, after.NumDropped);
        Assert.Single(after.Events);
    }

    [Fact]
    public async Task A_submitted_task_records_each_state_of_its_attempts_with_the_retry_as_the_next_attempt()
    {
        var raylet = new FakeRaylet { GrantImmediately = true };
        int pushes = 0;
        raylet.Worker.Handler = spec => Task.FromResult(Interlocked.Increment(ref pushes) == 1
            ? PushTaskReply.WorkerDied("the worker was killed")
            : Ok(spec.AttemptNumber));
        var sink = new FakeSink();
        using var worker = WorkerWithEvents(raylet, sink);
        var spec = NormalTask(worker, "Tests.Retried", maxRetries: 1);
        worker.NormalTaskSubmitter.Submit(worker.TaskManager.AddPendingTask(spec, 1));

        Assert.Equal(1, ValueOf(await Result(worker, spec))); // the retry ran as attempt 1
        await worker.TaskEvents!.FlushAsync(CancellationToken.None);
        var events = (await sink.Next()).Events;
        Assert.Equal(
            [(0, RayTaskStatus.PendingArgsAvail), (0, RayTaskStatus.PendingNodeAssignment), (0, RayTaskStatus.SubmittedToWorker), (0, RayTaskStatus.Failed),
                (1, RayTaskStatus.PendingNodeAssignment), (1, RayTaskStatus.SubmittedToWorker), (1, RayTaskStatus.Finished)],
            Expand(events));
        // One record per attempt.
        Assert.Equal([0, 1], events.Select(e => e.Attempt));
        Assert.Equal("WORKER_DIED", events[0].ErrorType);
        Assert.Equal("Tests.Retried", events[0].Info!.Name);
        Assert.Equal("Tests.Retried", events[1].Info!.Name); // a new attempt says what it is
        Assert.Equal(raylet.NodeId, events[0].NodeId);
        Assert.Null(events[1].ErrorType);
    }

    [Fact]
    public void A_report_interval_of_zero_turns_task_events_off()
    {
        using var worker = WorkerWithEvents(new FakeRaylet(), new FakeSink(), new RayConfig { TaskEventsReportInterval = TimeSpan.Zero });
        Assert.Null(worker.TaskEvents);
        var parsed = RayConfig.FromEnvironment(v => v == "RAY_task_events_report_interval_ms" ? "0" : null, out var problems);
        Assert.Empty(problems);
        Assert.Equal(TimeSpan.Zero, parsed.TaskEventsReportInterval);
    }
}
