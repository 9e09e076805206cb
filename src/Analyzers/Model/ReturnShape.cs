using Microsoft.CodeAnalysis;

namespace RaySharp.Analyzers.Model;

internal enum ReturnShapeKind
{
    /// <summary><c>void</c>, <c>Task</c>, <c>ValueTask</c>, or a constructor.</summary>
    None,

    /// <summary><c>T</c>, <c>Task&lt;T&gt;</c> or <c>ValueTask&lt;T&gt;</c>.</summary>
    Value,

    /// <summary><c>IAsyncEnumerable&lt;T&gt;</c>: a streaming generator.</summary>
    Stream,
}

/// <summary>What a remote method hands back once async wrappers are peeled off.</summary>
internal readonly struct ReturnShape
{
    private ReturnShape(ReturnShapeKind kind, ITypeSymbol? payload)
    {
        Kind = kind;
        Payload = payload;
    }

    public ReturnShapeKind Kind { get; }

    /// <summary>The value type that crosses the wire (the <c>T</c>), null for <see cref="ReturnShapeKind.None"/>.</summary>
    public ITypeSymbol? Payload { get; }

    public static ReturnShape Of(IMethodSymbol method, RaySymbols symbols)
    {
        if (method.MethodKind == MethodKind.Constructor || method.ReturnsVoid)
        {
            return new ReturnShape(ReturnShapeKind.None, null);
        }

        var type = method.ReturnType;
        if (RaySymbols.Is(type, symbols.Task) || RaySymbols.Is(type, symbols.ValueTask))
        {
            return new ReturnShape(ReturnShapeKind.None, null);
        }

        if (type is INamedTypeSymbol { TypeArguments.Length: 1 } named)
        {
            if (RaySymbols.IsConstructedFrom(named, symbols.TaskOfT) || RaySymbols.IsConstructedFrom(named, symbols.ValueTaskOfT))
            {
                return new ReturnShape(ReturnShapeKind.Value, named.TypeArguments[0]);
            }

            if (RaySymbols.IsConstructedFrom(named, symbols.AsyncEnumerableOfT))
            {
                return new ReturnShape(ReturnShapeKind.Stream, named.TypeArguments[0]);
            }
        }

        return new ReturnShape(ReturnShapeKind.Value, type);
    }
}
