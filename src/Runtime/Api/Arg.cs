using System.ComponentModel;

namespace RaySharp;

/// <summary>
/// A remote-call argument that is either a value or an <see cref="ObjectRef{T}"/> whose value the callee
/// receives (Ray resolves top-level refs before the function runs). Converts implicitly from both, so a
/// proxy parameter <c>Arg&lt;int&gt; a</c> accepts <c>1</c> as well as the ref of a task returning <c>int</c>.
/// </summary>
public readonly struct Arg<T>
{
    private readonly T? _value;
    private readonly ObjectRef<T>? _ref;

    private Arg(T? value, ObjectRef<T>? reference)
    {
        _value = value;
        _ref = reference;
    }

    /// <summary>True when the argument is a ref to be resolved before the call runs.</summary>
    public bool IsRef => _ref is not null;

    /// <summary>The value (default when <see cref="IsRef"/>).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public T? Value => _value;

    /// <summary>The ref (null unless <see cref="IsRef"/>).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public ObjectRef<T>? Ref => _ref;

    /// <summary>Passes a value.</summary>
    public static implicit operator Arg<T>(T value) => new(value, null);

    /// <summary>Passes the value of a ref, resolved before the call runs.</summary>
    public static implicit operator Arg<T>(ObjectRef<T> reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        return new(default, reference);
    }

    /// <summary>Passes a value.</summary>
    public static Arg<T> FromValue(T value) => new(value, null);

    /// <summary>Passes the value of a ref, resolved before the call runs.</summary>
    public static Arg<T> FromRef(ObjectRef<T> reference) => reference;
}
