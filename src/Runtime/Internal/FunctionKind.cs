using System.ComponentModel;

namespace RaySharp.Internal;

/// <summary>What a registered remote function is. Used by generated code.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public enum FunctionKind
{
    /// <summary>A static <c>[RayRemote]</c> method: a normal task.</summary>
    NormalTask = 0,
    /// <summary>A public constructor of an actor class: the actor creation task.</summary>
    ActorCreation = 1,
    /// <summary>A public instance method of an actor class.</summary>
    ActorMethod = 2,
}

/// <summary>How a remote function returns its result. Used by generated code.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public enum ReturnKind
{
    /// <summary>One value (<c>T</c>, <c>Task&lt;T&gt;</c>, <c>ValueTask&lt;T&gt;</c>): one return object.</summary>
    Value = 0,
    /// <summary>Nothing (<c>void</c>, <c>Task</c>, <c>ValueTask</c>, constructors): one return object marking completion.</summary>
    Void = 1,
    /// <summary>A tuple with <c>NumReturns = N</c>: N return objects.</summary>
    Multiple = 2,
    /// <summary><c>IAsyncEnumerable&lt;T&gt;</c>: a streaming generator, one object per yielded item.</summary>
    Streaming = 3,
}
