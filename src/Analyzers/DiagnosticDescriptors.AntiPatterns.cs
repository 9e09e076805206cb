using Microsoft.CodeAnalysis;

namespace RaySharp.Analyzers;

// Ray's anti-patterns that are about how code calls Ray (RAY109-RAY121) and the CS4014 suppressor.
internal static partial class DiagnosticDescriptors
{
    public const string PerformanceCategory = "RaySharp.Performance";
    public const string ReliabilityCategory = "RaySharp.Reliability";

    public const string RepeatedLargeArgumentId = "RAY109";
    public const string GlobalStateInRemoteCodeId = "RAY111";
    public const string NestedRuntimeInRemoteCodeId = "RAY113";
    public const string BlockingGetInAsyncCodeId = "RAY114";
    public const string UserExceptionCaughtAroundGetId = "RAY120";
    public const string BlockingCallToSelfId = "RAY121";
    public const string UnawaitedRemoteCallSuppressionId = "RAYSP001";

    public static readonly DiagnosticDescriptor RepeatedLargeArgument = AntiPattern(
        RepeatedLargeArgumentId,
        "The same large argument is passed by value to remote calls in a loop",
        "'{0}' is passed by value to '{1}' on every iteration, so it is serialized and stored again each time: put it once with 'var {2} = Ray.Put({0});' before the loop and pass the ref",
        PerformanceCategory,
        DiagnosticSeverity.Warning,
        "Every by-value argument of a remote call is serialized into the object store. Passing the same array or collection in a loop stores one copy per call; Ray.Put stores it once, and every task reads the same object.");

    public static readonly DiagnosticDescriptor GlobalStateInRemoteCode = AntiPattern(
        GlobalStateInRemoteCodeId,
        "Remote code uses mutable static state",
        "Remote method '{0}' {1} static {2} '{3}': each worker process has its own copy, so the driver and other workers never see the change; keep shared state in an actor",
        ReliabilityCategory,
        DiagnosticSeverity.Warning,
        "Tasks and actors run in worker processes. A static field or property there is that process's own, not the driver's: writes are lost to everyone else and reads see the worker's value, not what the driver set. Pass values as arguments or keep shared state in an actor.");

    public static readonly DiagnosticDescriptor NestedRuntimeInRemoteCode = AntiPattern(
        NestedRuntimeInRemoteCodeId,
        "Remote code starts a runtime or a process",
        "Remote method '{0}' calls '{1}': {2}",
        ReliabilityCategory,
        DiagnosticSeverity.Warning,
        "A worker is already connected to its cluster. Starting a second RaySharp runtime there, or forking processes the raylet does not know about, escapes Ray's resource accounting and fault handling. Submit tasks or create actors instead.");

    public static readonly DiagnosticDescriptor BlockingGetInAsyncCode = AntiPattern(
        BlockingGetInAsyncCodeId,
        "Blocking get or wait inside async code",
        "'{0}' blocks a thread inside {1}: {2}",
        PerformanceCategory,
        DiagnosticSeverity.Warning,
        "A blocking Get or Wait holds a thread-pool thread (or an async actor's only event loop) until the object arrives. Await the ref, Ray.GetAsync or Ray.WaitAsync instead, so the thread serves other work meanwhile.");

    public static readonly DiagnosticDescriptor UserExceptionCaughtAroundGet = AntiPattern(
        UserExceptionCaughtAroundGetId,
        "Catching the remote exception type around a Get never fires",
        "'catch ({0})' never catches what '{1}' throws: RaySharp reports a remote {0} as RayTaskException; catch (RayTaskException e) when (e.IsCausedBy<{0}>())",
        ReliabilityCategory,
        DiagnosticSeverity.Warning,
        "An exception thrown by remote code cannot be rethrown as itself on the caller: its type may not exist there and it is not serializable. Getting or awaiting the ref throws RayTaskException, which names the remote type; IsCausedBy<T>() tests it.");

    public static readonly DiagnosticDescriptor BlockingCallToSelf = AntiPattern(
        BlockingCallToSelfId,
        "A single-threaded actor blocks on a call to its own class",
        "'{0}' blocks '{1}' on '{2}', a call on a handle to a '{3}' actor: if it is this actor, the call waits behind the running one forever; make '{1}' async and await it, or call the method directly",
        ReliabilityCategory,
        DiagnosticSeverity.Warning,
        "A sync actor runs one call at a time. A call it submits to itself is queued behind the call that is waiting for it, so a blocking Get on it deadlocks (or times out). Call the method on 'this', or make the method async so the actor can run the queued call.");

    public static readonly SuppressionDescriptor UnawaitedRemoteCall = new(
        UnawaitedRemoteCallSuppressionId,
        "CS4014",
        "A remote call that is not awaited is a fire-and-forget submission: the call is queued in the cluster and its ObjectRef may be dropped, as in Ray.");

    private static DiagnosticDescriptor AntiPattern(string id, string title, string message, string category, DiagnosticSeverity severity, string description) =>
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
