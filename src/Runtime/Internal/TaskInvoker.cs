using System.ComponentModel;

namespace RaySharp.Internal;

/// <summary>Runs one remote function: reads arguments from <paramref name="invocation"/>, calls user code and
/// hands results back. Emitted by the source generator, one per remote function; never uses reflection.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public delegate ValueTask TaskInvoker(TaskInvocation invocation);
