namespace RaySharp.State;

/// <summary>The tasks of one function or actor method, counted per state (Ray's <c>TaskSummaryPerFuncOrClassName</c>).</summary>
public sealed record TaskSummaryEntry(string FuncOrClassName, RayTaskType Type, IReadOnlyDictionary<string, int> StateCounts);

/// <summary><c>ray summary tasks</c>: the task attempts the GCS holds, per function, with totals.</summary>
public sealed record TaskSummary(IReadOnlyDictionary<string, TaskSummaryEntry> Summary, int TotalTasks, int TotalActorTasks, int TotalActorScheduled,
    IReadOnlyList<string> Warnings);

/// <summary>The actors of one class, counted per state.</summary>
public sealed record ActorSummaryEntry(string ClassName, IReadOnlyDictionary<string, int> StateCounts);

/// <summary><c>ray summary actors</c>.</summary>
public sealed record ActorSummary(IReadOnlyDictionary<string, ActorSummaryEntry> Summary, int TotalActors);

/// <summary>The references of one kind: how many, their bytes, in how many processes and on how many nodes.</summary>
public sealed record ObjectSummaryEntry(ReferenceType ReferenceType, int TotalObjects, double TotalSizeMb, int TotalNumWorkers, int TotalNumNodes);

/// <summary><c>ray summary objects</c>. Ray groups by call site; RaySharp records none and groups by reference type.</summary>
public sealed record ObjectSummary(IReadOnlyDictionary<string, ObjectSummaryEntry> Summary, int TotalObjects, double TotalSizeMb,
    IReadOnlyList<string> Warnings);
