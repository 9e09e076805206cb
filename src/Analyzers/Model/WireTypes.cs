using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace RaySharp.Analyzers.Model;

/// <summary>A type that cannot be serialized, why, and (when the fix applies) the user type to mark [MemoryPackable].</summary>
internal sealed class WireProblem
{
    public WireProblem(ITypeSymbol offender, string reason, INamedTypeSymbol? fixableType)
    {
        Offender = offender;
        Reason = reason;
        FixableType = fixableType;
    }

    /// <summary>The innermost type that cannot be serialized (<c>Stream</c> in <c>List&lt;Stream&gt;</c>).</summary>
    public ITypeSymbol Offender { get; }

    public string Reason { get; }

    /// <summary>A class or struct declared in this compilation that becomes serializable with [MemoryPackable] + partial.</summary>
    public INamedTypeSymbol? FixableType { get; }
}

/// <summary>
/// Decides which types MemoryPack (1.21) can serialize, mirroring its formatter provider: well-known
/// BCL types, unmanaged structs, arrays up to rank 4, tuples, the BCL collections and collection
/// interfaces it registers, [MemoryPackable]/[MemoryPackUnion] types, plus RaySharp's refs and handles.
/// </summary>
internal static class WireTypes
{
    private const int MaxDepth = 16;

    private static readonly HashSet<string> KnownTypes = new()
    {
        "System.Guid", "System.TimeSpan", "System.DateTimeOffset", "System.DateOnly", "System.TimeOnly",
        "System.Half", "System.Int128", "System.UInt128", "System.Text.Rune", "System.Version", "System.Uri",
        "System.TimeZoneInfo", "System.Type", "System.Text.StringBuilder", "System.Collections.BitArray",
        "System.Globalization.CultureInfo", "System.Numerics.BigInteger", "System.Numerics.Complex",
        "System.Numerics.Plane", "System.Numerics.Quaternion", "System.Numerics.Matrix3x2",
        "System.Numerics.Matrix4x4", "System.Numerics.Vector2", "System.Numerics.Vector3", "System.Numerics.Vector4",
    };

    private static readonly HashSet<string> KnownGenericTypes = new()
    {
        "System.Nullable`1", "System.Lazy`1", "System.Collections.Generic.KeyValuePair`2",
        "System.Tuple`1", "System.Tuple`2", "System.Tuple`3", "System.Tuple`4",
        "System.Tuple`5", "System.Tuple`6", "System.Tuple`7", "System.Tuple`8",
        "System.ValueTuple`1", "System.ValueTuple`2", "System.ValueTuple`3", "System.ValueTuple`4",
        "System.ValueTuple`5", "System.ValueTuple`6", "System.ValueTuple`7", "System.ValueTuple`8",
        "System.ArraySegment`1", "System.Memory`1", "System.ReadOnlyMemory`1", "System.Buffers.ReadOnlySequence`1",

        "System.Collections.Generic.List`1", "System.Collections.Generic.Stack`1", "System.Collections.Generic.Queue`1",
        "System.Collections.Generic.LinkedList`1", "System.Collections.Generic.HashSet`1",
        "System.Collections.Generic.SortedSet`1", "System.Collections.Generic.PriorityQueue`2",
        "System.Collections.Generic.Dictionary`2", "System.Collections.Generic.SortedDictionary`2",
        "System.Collections.Generic.SortedList`2",
        "System.Collections.ObjectModel.Collection`1", "System.Collections.ObjectModel.ObservableCollection`1",
        "System.Collections.ObjectModel.ReadOnlyCollection`1", "System.Collections.ObjectModel.ReadOnlyObservableCollection`1",
        "System.Collections.Concurrent.ConcurrentQueue`1", "System.Collections.Concurrent.ConcurrentStack`1",
        "System.Collections.Concurrent.ConcurrentBag`1", "System.Collections.Concurrent.ConcurrentDictionary`2",
        "System.Collections.Concurrent.BlockingCollection`1",

        "System.Collections.Generic.IEnumerable`1", "System.Collections.Generic.ICollection`1",
        "System.Collections.Generic.IReadOnlyCollection`1", "System.Collections.Generic.IList`1",
        "System.Collections.Generic.IReadOnlyList`1", "System.Collections.Generic.IDictionary`2",
        "System.Collections.Generic.IReadOnlyDictionary`2", "System.Collections.Generic.ISet`1",
        "System.Collections.Generic.IReadOnlySet`1", "System.Linq.ILookup`2", "System.Linq.IGrouping`2",

        "System.Collections.Immutable.ImmutableArray`1", "System.Collections.Immutable.ImmutableList`1",
        "System.Collections.Immutable.ImmutableQueue`1", "System.Collections.Immutable.ImmutableStack`1",
        "System.Collections.Immutable.ImmutableDictionary`2", "System.Collections.Immutable.ImmutableSortedDictionary`2",
        "System.Collections.Immutable.ImmutableHashSet`1", "System.Collections.Immutable.ImmutableSortedSet`1",
        "System.Collections.Immutable.IImmutableList`1", "System.Collections.Immutable.IImmutableQueue`1",
        "System.Collections.Immutable.IImmutableStack`1", "System.Collections.Immutable.IImmutableSet`1",
        "System.Collections.Immutable.IImmutableDictionary`2",
        "System.Collections.Frozen.FrozenDictionary`2", "System.Collections.Frozen.FrozenSet`1",
    };

    /// <summary>Checks a parameter type; a top-level <c>CancellationToken</c> is supplied by the runtime and allowed, and a
    /// top-level <c>ObjectView&lt;T&gt;</c> receives a <c>T[]</c> (its <c>T</c> is unmanaged by the type's constraint).</summary>
    public static WireProblem? CheckParameter(ITypeSymbol type, RaySymbols symbols) =>
        symbols.IsCancellationToken(type) || symbols.IsObjectView(type) ? null : Check(type, symbols, 0);

    /// <summary>Checks the payload of a return (the <c>T</c> of <c>Task&lt;T&gt;</c> etc.).</summary>
    public static WireProblem? CheckReturn(ITypeSymbol type, RaySymbols symbols) => Check(type, symbols, 0);

    private static WireProblem? Check(ITypeSymbol type, RaySymbols symbols, int depth)
    {
        if (depth > MaxDepth)
        {
            return null;
        }

        switch (type)
        {
            case { TypeKind: TypeKind.Error }:
            case ITypeParameterSymbol:
            case IPointerTypeSymbol:
            case IFunctionPointerTypeSymbol:
                // Errors are the compiler's; type parameters and pointers are shapes RAY003 reports.
                return null;
            case IDynamicTypeSymbol:
                return new WireProblem(type, "'dynamic' has no static type to serialize; use a concrete type", null);
            case IArrayTypeSymbol array:
                return array.Rank > 4
                    ? new WireProblem(type, "MemoryPack serializes arrays of rank 1 to 4 only; use a jagged array", null)
                    : Check(array.ElementType, symbols, depth + 1);
            case INamedTypeSymbol named:
                return CheckNamed(named, symbols, depth);
            default:
                return new WireProblem(type, Unsupported(type), null);
        }
    }

    private static WireProblem? CheckNamed(INamedTypeSymbol type, RaySymbols symbols, int depth)
    {
        switch (type.SpecialType)
        {
            case SpecialType.System_Object:
                return new WireProblem(type, "'object' has no static type to serialize; use a concrete type or a [MemoryPackable] [MemoryPackUnion] base type", null);
            case SpecialType.System_Boolean:
            case SpecialType.System_Char:
            case SpecialType.System_SByte:
            case SpecialType.System_Byte:
            case SpecialType.System_Int16:
            case SpecialType.System_UInt16:
            case SpecialType.System_Int32:
            case SpecialType.System_UInt32:
            case SpecialType.System_Int64:
            case SpecialType.System_UInt64:
            case SpecialType.System_Single:
            case SpecialType.System_Double:
            case SpecialType.System_Decimal:
            case SpecialType.System_String:
            case SpecialType.System_IntPtr:
            case SpecialType.System_UIntPtr:
            case SpecialType.System_DateTime:
                return null;
        }

        if (type.TypeKind == TypeKind.Enum)
        {
            return null;
        }

        if (symbols.IsCancellationToken(type))
        {
            return new WireProblem(type, "a CancellationToken is supplied by the runtime and is only allowed as a top-level parameter", null);
        }

        if (symbols.IsObjectView(type))
        {
            return new WireProblem(type,
                $"'{Display(type)}' is a view of an object that lives only while the method that received it runs; take it as a top-level parameter, and send or return the elements as an array ('view.Span.ToArray()')",
                null);
        }

        // Refs and handles travel as references; the value behind an ObjectRef<T> must still serialize.
        if (RaySymbols.Is(type, symbols.ObjectRef) || RaySymbols.Is(type, symbols.ActorHandle) ||
            RaySymbols.IsConstructedFrom(type, symbols.ActorHandleOfT))
        {
            return null;
        }

        if (RaySymbols.IsConstructedFrom(type, symbols.ObjectRefOfT))
        {
            return Check(type.TypeArguments[0], symbols, depth + 1);
        }

        if (RaySymbols.Is(type, symbols.Task) || RaySymbols.Is(type, symbols.ValueTask) ||
            RaySymbols.IsConstructedFrom(type, symbols.TaskOfT) || RaySymbols.IsConstructedFrom(type, symbols.ValueTaskOfT))
        {
            return new WireProblem(type, $"'{Display(type)}' is a running operation, not a value; await it before the call, or pass an ObjectRef<T>", null);
        }

        if (type.TypeKind == TypeKind.Delegate)
        {
            return new WireProblem(type, $"delegate '{Display(type)}' is code, not data; pass the data and call a remote method instead", null);
        }

        if (type.IsRefLikeType)
        {
            return new WireProblem(type, $"ref struct '{Display(type)}' cannot be stored; use an array or ReadOnlyMemory<T>", null);
        }

        if (type.IsTupleType)
        {
            return FirstProblem(type.TupleElements.Select(e => e.Type), symbols, depth);
        }

        var metadataName = FullMetadataName(type);
        if (KnownTypes.Contains(metadataName))
        {
            return null;
        }

        if (type.IsGenericType && KnownGenericTypes.Contains(FullMetadataName(type.OriginalDefinition)))
        {
            return FirstProblem(type.TypeArguments, symbols, depth);
        }

        if (IsMemoryPackable(type, symbols))
        {
            return FirstProblem(type.TypeArguments, symbols, depth);
        }

        // MemoryPack copies structs without references byte for byte; no attribute needed.
        if (type.IsValueType && type.IsUnmanagedType)
        {
            return null;
        }

        var fixable = IsFixable(type) ? type.OriginalDefinition : null;
        return new WireProblem(type, fixable is not null ? NotPackable(type) : Unsupported(type), fixable);
    }

    private static WireProblem? FirstProblem(IEnumerable<ITypeSymbol> types, RaySymbols symbols, int depth)
    {
        foreach (var type in types)
        {
            if (Check(type, symbols, depth + 1) is { } problem)
            {
                return problem;
            }
        }

        return null;
    }

    private static bool IsMemoryPackable(INamedTypeSymbol type, RaySymbols symbols)
    {
        var definition = type.OriginalDefinition;
        if (symbols.FindAttribute(definition, symbols.MemoryPackableAttribute) is not null ||
            symbols.FindAttribute(definition, symbols.MemoryPackUnionAttribute) is not null)
        {
            return true;
        }

        return symbols.MemoryPackableInterface is { } packable &&
            definition.AllInterfaces.Any(i => SymbolEqualityComparer.Default.Equals(i.OriginalDefinition, packable));
    }

    private static bool IsFixable(INamedTypeSymbol type) =>
        type.TypeKind is TypeKind.Class or TypeKind.Struct &&
        !type.IsAbstract && !type.IsStatic && !type.IsImplicitlyDeclared &&
        type.DeclaringSyntaxReferences.Length > 0;

    private static string NotPackable(INamedTypeSymbol type) =>
        $"'{Display(type)}' is not [MemoryPackable]; mark it [MemoryPackable] and partial";

    private static string Unsupported(ITypeSymbol type) => type.TypeKind == TypeKind.Interface
        ? $"MemoryPack cannot serialize interface '{Display(type)}'; use a concrete type or a [MemoryPackable] [MemoryPackUnion] interface"
        : $"MemoryPack has no formatter for '{Display(type)}'; use a primitive, string, array, collection, tuple or [MemoryPackable] type that carries the data";

    public static string Display(ITypeSymbol type) => type.ToDisplayString(SymbolDisplayFormat.CSharpShortErrorMessageFormat);

    private static string FullMetadataName(INamedTypeSymbol type)
    {
        if (type.ContainingType is { } containing)
        {
            return FullMetadataName(containing) + "+" + type.MetadataName;
        }

        var ns = type.ContainingNamespace;
        return ns is null || ns.IsGlobalNamespace ? type.MetadataName : ns.ToDisplayString() + "." + type.MetadataName;
    }
}
