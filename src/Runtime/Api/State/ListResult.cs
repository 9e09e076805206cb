using System.Collections;

namespace RaySharp.State;

/// <summary>
/// What a list call of the state API returns: the rows (at most the limit asked for), how many matched before the limit
/// (<see cref="Total"/>), and warnings when the answer may be incomplete (a node or worker did not answer, task events
/// were dropped), as Ray's <c>ListApiResponse</c> does.
/// </summary>
public class ListResult<T> : IReadOnlyList<T>
{
    private readonly IReadOnlyList<T> _items;

    /// <param name="items">The rows returned.</param>
    /// <param name="total">Rows that matched before the limit.</param>
    /// <param name="warnings">Why the rows may be incomplete.</param>
    public ListResult(IReadOnlyList<T> items, int total, IReadOnlyList<string>? warnings = null)
    {
        _items = items;
        Total = total;
        Warnings = warnings ?? [];
    }

    /// <summary>Rows that matched the filters, before the limit.</summary>
    public int Total { get; }

    /// <summary>Why the rows may be incomplete; empty when they are not.</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>The row at <paramref name="index"/>.</summary>
    public T this[int index] => _items[index];

    /// <summary>Rows returned (at most the limit).</summary>
    public int Count => _items.Count;

    /// <summary>The rows in order.</summary>
    public IEnumerator<T> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>Tasks, with the task events lost on the way (Ray's <c>num_status_task_events_dropped</c>): a worker whose
/// buffer was full dropped its oldest events, and the GCS evicted the oldest attempts beyond
/// <c>RAY_task_events_max_num_task_in_gcs</c>. Either means some tasks are missing or show an old state.</summary>
/// <param name="items">The attempts returned.</param>
/// <param name="total">Attempts that matched before the limit.</param>
/// <param name="numDroppedAtWorkers">Events workers dropped.</param>
/// <param name="numDroppedAtGcs">Attempts the GCS evicted.</param>
/// <param name="warnings">Why the rows may be incomplete.</param>
public sealed class TaskListResult(IReadOnlyList<TaskState> items, int total, long numDroppedAtWorkers, long numDroppedAtGcs, IReadOnlyList<string>? warnings = null)
    : ListResult<TaskState>(items, total, warnings)
{
    /// <summary>Task events workers dropped because their buffer was full (<c>RAY_task_events_max_buffer_size</c>).</summary>
    public long NumDroppedAtWorkers { get; } = numDroppedAtWorkers;

    /// <summary>Task attempts the GCS evicted, oldest first, to stay within <c>RAY_task_events_max_num_task_in_gcs</c>.</summary>
    public long NumDroppedAtGcs { get; } = numDroppedAtGcs;
}
