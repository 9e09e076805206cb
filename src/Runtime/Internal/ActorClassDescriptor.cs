using System.ComponentModel;

namespace RaySharp.Internal;

/// <summary>An actor class as the generator saw it. Used by generated code.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class ActorClassDescriptor
{
    /// <summary>Full name, e.g. <c>MyApp.Counter</c> (or the <c>[RayRemote(Name = …)]</c> override).</summary>
    public required string Name { get; init; }

    /// <summary>The options set in the class's <c>[RayRemote]</c>.</summary>
    public ActorOptions? Options { get; init; }

    /// <summary>The class has async methods: an async actor (default MaxConcurrency 1000).</summary>
    public bool HasAsyncMethods { get; init; }

    /// <inheritdoc/>
    public override string ToString() => Name;
}
