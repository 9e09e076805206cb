using Microsoft.CodeAnalysis;

namespace RaySharp.Analyzers;

// Captured-reference leaks and views that outlive their pin (RAY01x) and the Ray anti-patterns about getting, putting and task size (RAY101-RAY107).
internal static partial class DiagnosticDescriptors
{
    public const string ReferenceLeakCategory = "RaySharp.References";
    public const string RayPatternCategory = "RaySharp.Performance";

    public const string RefInStaticStateId = "RAY010";
    public const string RefCapturedByLongLivedCallbackId = "RAY011";
    public const string RefSerializedOutOfBandId = "RAY012";
    public const string ViewOutlivesPinId = "RAY013";
    public const string RemoteMethodReturnsPutId = "RAY101";
    public const string GetOfTaskArgumentsId = "RAY102";
    public const string GetInLoopId = "RAY103";
    public const string UnnecessaryGetId = "RAY104";
    public const string SubmissionOrderId = "RAY105";
    public const string GetTooManyId = "RAY106";
    public const string TooFineGrainedId = "RAY107";

    public static readonly DiagnosticDescriptor RefInStaticState = NewDescriptor(
        RefInStaticStateId,
        DiagnosticSeverity.Warning,
        "ObjectRef or ActorHandle kept in static state",
        "'{0}' keeps '{1}' in static state: it stays pinned for the life of the process, and remote code reading the static sees its own process's copy; pass the reference as an argument or keep it in an actor",
        ReferenceLeakCategory,
        "A reference held by a static is never released, so the object (or actor) it points to lives until the process ends. Statics are also per process: a task or actor that reads the static runs in a worker and sees that worker's value, not the driver's.");

    public static readonly DiagnosticDescriptor RefCapturedByLongLivedCallback = NewDescriptor(
        RefCapturedByLongLivedCallbackId,
        DiagnosticSeverity.Warning,
        "ObjectRef captured by a callback that outlives the call",
        "The callback captures ObjectRef '{0}' and {1}, so the closure pins the object for as long as the callback lives: pass the ref into the callback explicitly, or dispose it when done",
        ReferenceLeakCategory,
        "A lambda or local function that captures an ObjectRef keeps it reachable for as long as the delegate is reachable. A delegate stored in a field, subscribed to an event, handed to a timer or started as a task nobody awaits can live far longer than the method that made it, and with it the object in the object store.");

    public static readonly DiagnosticDescriptor RefSerializedOutOfBand = NewDescriptor(
        RefSerializedOutOfBandId,
        DiagnosticSeverity.Warning,
        "ObjectRef serialized out of band",
        "{0} {1} outside RaySharp's serializer: the runtime cannot count that copy of the reference, and the object may be freed while it is still in use; pass refs through task arguments, return values or objects RaySharp serializes",
        ReferenceLeakCategory,
        "RaySharp counts every ObjectRef it serializes itself (task arguments, results, objects in the store). A ref written as JSON, through a BinaryWriter, or as the text of its ID is invisible to that counting: once the last counted reference is gone, the object is freed although the copy still names it.");

    public static readonly DiagnosticDescriptor ViewOutlivesPin = NewDescriptor(
        ViewOutlivesPinId,
        DiagnosticSeverity.Warning,
        "ObjectView or its memory outlives the view",
        "ObjectView '{0}' is disposed {1}, yet '{2}' {3}: copy what must outlive the view (ToArray()), or keep the view alive and dispose it in one scope",
        ReferenceLeakCategory,
        "An ObjectView<T> reads an object where it lies, in the object store, and pins it there until the view is disposed. Its Span and Memory point into that store: once the view is disposed (at the end of its using scope, or, for a view parameter of a remote method, when the method returns) the store may evict the object or reuse the memory. A view or memory kept in a field, captured by a callback that runs later, returned past the using that disposes it, or read after that using ends reads freed memory.");

    public static readonly DiagnosticDescriptor RemoteMethodReturnsPut = NewDescriptor(
        RemoteMethodReturnsPutId,
        DiagnosticSeverity.Warning,
        "Remote method returns an ObjectRef created with Ray.Put",
        "Remote method '{0}' returns an ObjectRef created with Ray.Put: the worker becomes the owner of that object and the caller needs a second round trip to reach the value; return the value itself (NumReturns or a streaming method split large results)",
        RayPatternCategory,
        "Ray's anti-pattern 'Returning ray.put() ObjectRefs from a task harms performance and fault tolerance': the object is owned by the worker that put it, so it is lost if that worker dies, and the caller has to get a ref before it can get the value.");

    public static readonly DiagnosticDescriptor GetOfTaskArguments = NewDescriptor(
        GetOfTaskArgumentsId,
        DiagnosticSeverity.Info,
        "Remote method gets all the refs it was given",
        "Remote method '{0}' takes refs in '{1}' only to get them all at once: take '{2}' values instead and pass the refs as top-level arguments, which Ray resolves before the task starts",
        RayPatternCategory,
        "Ray's anti-pattern 'Calling ray.get on task arguments harms performance': a task that blocks on refs it was handed holds its worker and CPU slot while it waits. Refs passed as top-level arguments are fetched before the task is scheduled to run.");

    public static readonly DiagnosticDescriptor GetInLoop = NewDescriptor(
        GetInLoopId,
        DiagnosticSeverity.Warning,
        "Get of a task submitted in the same loop iteration",
        "The result of '{0}' is waited for in the same loop iteration that submits it, so the tasks run one at a time: submit them all first, then get the results with Ray.Get(list)",
        RayPatternCategory,
        "Ray's anti-pattern 'Calling ray.get in a loop harms parallelism': a blocking get right after each submission waits for that task before the next one is submitted, so nothing runs in parallel.");

    public static readonly DiagnosticDescriptor UnnecessaryGet = NewDescriptor(
        UnnecessaryGetId,
        DiagnosticSeverity.Info,
        "Value fetched only to be passed to another remote call",
        "The value of '{0}' is fetched only to be passed to remote method '{1}': pass the ObjectRef itself, and Ray hands the value to the task without a round trip through this process",
        RayPatternCategory,
        "Ray's anti-pattern 'Calling ray.get unnecessarily harms performance': getting a value only to send it to another task copies it to the caller and back, and blocks the caller until it is ready. An ObjectRef passed as the argument is resolved by the task's worker.");

    public static readonly DiagnosticDescriptor SubmissionOrder = NewDescriptor(
        SubmissionOrderId,
        DiagnosticSeverity.Info,
        "Results processed in submission order",
        "The refs in '{0}' are fetched and processed in submission order, so each result waits for every earlier task even if it finished first: process them as they complete with a Ray.Wait loop",
        RayPatternCategory,
        "Ray's anti-pattern 'Processing results in submission order using ray.get increases runtime': a slow early task holds up the processing of all later results. Ray.Wait(refs, numReturns: 1) returns whichever finished first.");

    public static readonly DiagnosticDescriptor GetTooMany = NewDescriptor(
        GetTooManyId,
        DiagnosticSeverity.Info,
        "Ray.Get of a list of unbounded size",
        "Ray.Get fetches every object of '{0}' at once, and '{0}' grows in a loop that no constant bounds: fetch in batches with Ray.Wait({0}, numReturns: N) so this process's memory stays bounded",
        RayPatternCategory,
        "Ray's anti-pattern 'Fetching too many objects at once with ray.get causes failure': all the values have to fit in the caller's memory at the same time. Getting them in batches bounds that.");

    public static readonly DiagnosticDescriptor TooFineGrained = NewDescriptor(
        TooFineGrainedId,
        DiagnosticSeverity.Info,
        "A trivial remote function called per element",
        "'{0}' is a trivial remote function called once per element of a collection of unknown or large size: each task costs more to schedule than it computes; give each task a batch of elements",
        RayPatternCategory,
        "Ray's anti-pattern 'Over-parallelizing with too fine-grained tasks harms speedup': every task pays for scheduling, argument and result transfer. A task should do noticeably more work than that overhead.");

    private static DiagnosticDescriptor NewDescriptor(
        string id, DiagnosticSeverity severity, string title, string message, string category, string description) =>
        new(
            id,
            title,
            message,
            category,
            severity,
            isEnabledByDefault: true,
            description: description,
            helpLinkUri: HelpLinkBase + id + ".md");
}
