using System.Text.Json;
using System.Text.Json.Serialization;
using RaySharp.Core;

namespace RaySharp.State;

/// <summary>
/// The state of the cluster this process is connected to (Ray's state API, <c>ray.util.state</c>): its nodes, actors, jobs
/// and placement groups from the GCS's tables, task attempts from the GCS's task-event store, and the object references
/// every driver and worker holds. Works the same in local mode, on the embedded cluster and on a cluster at an address.
/// Rows serialize with Ray's field names through <see cref="JsonOptions"/>.
/// </summary>
public static class StateApi
{
    /// <summary>Rows a list returns unless told otherwise (as Ray's).</summary>
    public const int DefaultLimit = 100;

    /// <summary>The most rows one list returns.</summary>
    public const int MaxLimit = 100_000;

    /// <summary>Ray's JSON shape of the rows: snake_case field names (<c>task_id</c>, <c>func_or_class_name</c>) and
    /// enums as upper snake case (<c>PENDING_NODE_ASSIGNMENT</c>, <c>ACTOR_TASK</c>, <c>LOCAL_REFERENCE</c>).</summary>
    public static JsonSerializerOptions JsonOptions { get; } = CreateJsonOptions();

    private static JsonSerializerOptions CreateJsonOptions()
    {
        var options = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseUpper) },
        };
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }

    /// <summary>Task attempts, oldest first, that pass every filter (e.g. <c>StateFilter.Parse("state=FAILED")</c>).</summary>
    public static TaskListResult ListTasks(int limit = DefaultLimit, params IEnumerable<StateFilter> filters) =>
        ListTasks(Source, limit, filters);

    /// <summary>The object references held by every driver and worker of the cluster.</summary>
    public static ListResult<ObjectState> ListObjects(int limit = DefaultLimit, params IEnumerable<StateFilter> filters) =>
        ListObjects(Source, limit, filters);

    /// <summary>The cluster's nodes, alive and dead.</summary>
    public static ListResult<NodeState> ListNodes(int limit = DefaultLimit, params IEnumerable<StateFilter> filters) =>
        Limit(Source.Nodes(), limit, filters, "nodes");

    /// <summary>The cluster's actors, alive and dead.</summary>
    public static ListResult<ActorState> ListActors(int limit = DefaultLimit, params IEnumerable<StateFilter> filters) =>
        Limit(Source.Actors(), limit, filters, "actors");

    /// <summary>The cluster's placement groups, oldest first.</summary>
    public static ListResult<PlacementGroupState> ListPlacementGroups(int limit = DefaultLimit, params IEnumerable<StateFilter> filters) =>
        Limit(Source.PlacementGroups(), limit, filters, "placement groups");

    /// <summary>The jobs (drivers) the GCS knows.</summary>
    public static ListResult<JobState> ListJobs(int limit = DefaultLimit, params IEnumerable<StateFilter> filters) =>
        Limit(Source.Jobs(), limit, filters, "jobs");

    /// <summary>Task attempts per function or actor method, counted per state (<c>ray summary tasks</c>).</summary>
    public static TaskSummary SummarizeTasks() => SummarizeTasks(Source);

    /// <summary>Actors per class, counted per state (<c>ray summary actors</c>).</summary>
    public static ActorSummary SummarizeActors() => SummarizeActors(Source);

    /// <summary>Object references per reference type (<c>ray summary objects</c>).</summary>
    public static ObjectSummary SummarizeObjects() => SummarizeObjects(Source);

    private static IStateSource Source => CoreWorker.Current.State
        ?? throw new InvalidOperationException("This RaySharp process has no connection to a GCS to read the cluster's state from.");

    internal static TaskListResult ListTasks(IStateSource source, int limit, IEnumerable<StateFilter>? filters)
    {
        StateFilter[] checkedFilters = [.. filters ?? []];
        CheckFilters("tasks", checkedFilters);
        return source.ListTasks(CheckLimit(limit), checkedFilters);
    }

    internal static ListResult<ObjectState> ListObjects(IStateSource source, int limit, IEnumerable<StateFilter>? filters)
    {
        StateFilter[] checkedFilters = [.. filters ?? []];
        CheckFilters("objects", checkedFilters);
        return source.ListObjects(CheckLimit(limit), checkedFilters);
    }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the fields there are when a filter names none of the
    /// fields of <paramref name="what"/> (<c>tasks</c>, <c>objects</c>, <c>nodes</c>, <c>actors</c>, <c>jobs</c> or
    /// <c>placement groups</c>), before the cluster is asked (a list with no rows would not notice).</summary>
    internal static void CheckFilters(string what, IReadOnlyList<StateFilter> filters)
    {
        switch (what)
        {
            case "tasks": StateFilter.CheckKeys(new TaskState { TaskId = "", Name = "", JobId = "", FuncOrClassName = "" }, filters, what); break;
            case "objects": StateFilter.CheckKeys(new ObjectState { ObjectId = "", Type = "", NodeId = "", WorkerId = "" }, filters, what); break;
            case "nodes": StateFilter.CheckKeys(new NodeState { NodeId = "", NodeIp = "", State = "" }, filters, what); break;
            case "actors": StateFilter.CheckKeys(new ActorState { ActorId = "", ClassName = "", State = "", JobId = "", RayNamespace = "" }, filters, what); break;
            case "jobs": StateFilter.CheckKeys(new JobState { JobId = "", Status = "", Namespace = "" }, filters, what); break;
            case "placement groups":
                StateFilter.CheckKeys(new PlacementGroupState { PlacementGroupId = "", CreatorJobId = "", State = "", Strategy = "" }, filters, what);
                break;
            default: throw new ArgumentException($"The state API lists no '{what}'.", nameof(what));
        }
    }

    internal static ListResult<T> Limit<T>(IReadOnlyList<T> all, int limit, IEnumerable<StateFilter>? filters, string what)
    {
        CheckLimit(limit);
        StateFilter[] checkedFilters = [.. filters ?? []];
        CheckFilters(what, checkedFilters);
        var matching = StateFilter.Apply(all, checkedFilters, what).ToList();
        return new ListResult<T>(matching.Count <= limit ? matching : matching[..limit], matching.Count);
    }

    private static int CheckLimit(int limit) => limit is > 0 and <= MaxLimit ? limit
        : throw new ArgumentOutOfRangeException(nameof(limit), limit, $"A state-API limit is from 1 to {MaxLimit}.");

    internal static TaskSummary SummarizeTasks(IStateSource source)
    {
        var tasks = source.ListTasks(MaxLimit, []);
        var summary = new Dictionary<string, (RayTaskType Type, Dictionary<string, int> Counts)>(StringComparer.Ordinal);
        foreach (var t in tasks)
        {
            if (!summary.TryGetValue(t.FuncOrClassName, out var entry)) summary[t.FuncOrClassName] = entry = (t.Type, new(StringComparer.Ordinal));
            string state = JsonNamingPolicy.SnakeCaseUpper.ConvertName(t.State.ToString());
            entry.Counts[state] = entry.Counts.GetValueOrDefault(state) + 1;
        }
        return new TaskSummary(summary.ToDictionary(e => e.Key, e => new TaskSummaryEntry(e.Key, e.Value.Type, e.Value.Counts), StringComparer.Ordinal),
            tasks.Count, tasks.Count(t => t.Type == RayTaskType.ActorTask), tasks.Count(t => t.Type == RayTaskType.ActorCreationTask), tasks.Warnings);
    }

    internal static ActorSummary SummarizeActors(IStateSource source)
    {
        var actors = source.Actors();
        var summary = actors.GroupBy(a => a.ClassName, StringComparer.Ordinal).ToDictionary(g => g.Key, g => new ActorSummaryEntry(g.Key,
            g.GroupBy(a => a.State, StringComparer.Ordinal).ToDictionary(s => s.Key, s => s.Count(), StringComparer.Ordinal)), StringComparer.Ordinal);
        return new ActorSummary(summary, actors.Count);
    }

    internal static ObjectSummary SummarizeObjects(IStateSource source)
    {
        var objects = source.ListObjects(MaxLimit, []);
        static double Mb(IEnumerable<ObjectState> o) => o.Sum(x => x.ObjectSize ?? 0) / (1024.0 * 1024.0);
        var summary = objects.GroupBy(o => o.ReferenceType).ToDictionary(
            g => JsonNamingPolicy.SnakeCaseUpper.ConvertName(g.Key.ToString()),
            g => new ObjectSummaryEntry(g.Key, g.Count(), Mb(g), g.Select(o => o.WorkerId).Distinct().Count(), g.Select(o => o.NodeId).Distinct().Count()),
            StringComparer.Ordinal);
        return new ObjectSummary(summary, objects.Count, Mb(objects), objects.Warnings);
    }
}

/// <summary>Where the state API reads from: the GCS this process is connected to (or, for the CLI, one named by address).</summary>
internal interface IStateSource
{
    /// <summary>Task attempts passing <paramref name="filters"/>, oldest first, at most <paramref name="limit"/>.</summary>
    TaskListResult ListTasks(int limit, IReadOnlyList<StateFilter> filters);

    /// <summary>The references every driver and worker holds, passing <paramref name="filters"/>, at most <paramref name="limit"/>.</summary>
    ListResult<ObjectState> ListObjects(int limit, IReadOnlyList<StateFilter> filters);

    IReadOnlyList<NodeState> Nodes();

    IReadOnlyList<ActorState> Actors();

    IReadOnlyList<JobState> Jobs();

    IReadOnlyList<PlacementGroupState> PlacementGroups();
}
