using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;
using RaySharp.Analyzers.Model;

namespace RaySharp.Analyzers.Flow;

/// <summary>
/// What the flow analyzers need to know about RaySharp's API in one compilation: which calls submit
/// remote work (the generated proxies), which calls wait for a value, and which types hold references.
/// The generated proxies are recognized by their shape (a <c>RemoteProxy</c> struct nested in a type with
/// [RayRemote] members, or an extension on <c>ActorHandle&lt;T&gt;</c> of an actor class), not by name text.
/// </summary>
internal sealed class RayApi
{
    private readonly RaySymbols _symbols;

    private RayApi(Compilation compilation, RaySymbols symbols, INamedTypeSymbol ray)
    {
        _symbols = symbols;
        Ray = ray;
        ObjectId = compilation.GetTypeByMetadataName("RaySharp.ObjectId");
        Arg = compilation.GetTypeByMetadataName("RaySharp.Arg`1");
    }

    public INamedTypeSymbol Ray { get; }
    public INamedTypeSymbol? ObjectId { get; }
    public INamedTypeSymbol? Arg { get; }
    private INamedTypeSymbol RayRemoteAttribute => _symbols.RayRemoteAttribute;

    /// <summary>Null when the compilation does not reference RaySharp.</summary>
    public static RayApi? TryCreate(Compilation compilation) =>
        RaySymbols.TryCreate(compilation) is { } symbols && compilation.GetTypeByMetadataName("RaySharp.Ray") is { } ray
            ? new RayApi(compilation, symbols, ray)
            : null;

    // ---- types ----

    public bool IsObjectRef(ITypeSymbol? type) => DerivesFrom(type, _symbols.ObjectRef);

    public bool IsActorHandle(ITypeSymbol? type) => DerivesFrom(type, _symbols.ActorHandle);

    public bool IsTypedObjectRef(ITypeSymbol? type) => RaySymbols.IsConstructedFrom(type, _symbols.ObjectRefOfT);

    public bool IsObjectView(ITypeSymbol? type) => _symbols.IsObjectView(type);

    /// <summary>
    /// True when a value of <paramref name="type"/> keeps references alive: a ref itself (or a handle, when
    /// asked), or an array, tuple, nullable, Lazy or collection of them. Delegates and tasks that would only
    /// produce a ref are not counted: they hold none until they run.
    /// </summary>
    public bool HoldsReferences(ITypeSymbol? type, bool includeHandles) => HoldsReferences(type, includeHandles, depth: 0);

    private bool HoldsReferences(ITypeSymbol? type, bool includeHandles, int depth)
    {
        if (type is null || depth > 4)
        {
            return false;
        }

        if (IsObjectRef(type) || (includeHandles && IsActorHandle(type)))
        {
            return true;
        }

        switch (type)
        {
            case IArrayTypeSymbol array:
                return HoldsReferences(array.ElementType, includeHandles, depth + 1);
            case INamedTypeSymbol { IsGenericType: true } named when named.TypeKind != TypeKind.Delegate && IsContainer(named):
                return named.TypeArguments.Any(t => HoldsReferences(t, includeHandles, depth + 1));
            default:
                return false;
        }
    }

    private static bool IsContainer(INamedTypeSymbol type)
    {
        if (type.IsTupleType || type.OriginalDefinition.SpecialType == SpecialType.System_Nullable_T)
        {
            return true;
        }

        if (type.OriginalDefinition.ToDisplayString() == "System.Lazy<T>")
        {
            return true;
        }

        return type.OriginalDefinition.SpecialType == SpecialType.System_Collections_Generic_IEnumerable_T ||
            type.AllInterfaces.Any(i => i.OriginalDefinition.SpecialType == SpecialType.System_Collections_Generic_IEnumerable_T);
    }

    /// <summary>The <c>T</c> of a collection of <c>ObjectRef&lt;T&gt;</c> (array or IEnumerable), or null.</summary>
    public ITypeSymbol? ElementOfRefCollection(ITypeSymbol? type)
    {
        var element = type switch
        {
            IArrayTypeSymbol array => array.ElementType,
            INamedTypeSymbol named when named.OriginalDefinition.SpecialType == SpecialType.System_Collections_Generic_IEnumerable_T => named.TypeArguments[0],
            INamedTypeSymbol named => named.AllInterfaces
                .FirstOrDefault(i => i.OriginalDefinition.SpecialType == SpecialType.System_Collections_Generic_IEnumerable_T)?.TypeArguments[0],
            _ => null,
        };
        return IsTypedObjectRef(element) ? ((INamedTypeSymbol)element!).TypeArguments[0] : null;
    }

    // ---- calls ----

    public bool IsRayMethod(IMethodSymbol method, string name) => method.Name == name && Same(method.ContainingType, Ray);

    /// <summary><c>Ray.Put(value)</c>.</summary>
    public bool IsPut(IOperation? operation) =>
        Operations.Unwrap(operation) is IInvocationOperation invocation && IsRayMethod(invocation.TargetMethod, "Put");

    /// <summary><c>Ray.Get(list)</c> or <c>Ray.GetAsync(list)</c>: the overloads that fetch many refs at once.</summary>
    public bool IsGetOfMany(IInvocationOperation invocation, out IOperation? list)
    {
        list = null;
        var method = invocation.TargetMethod;
        if ((IsRayMethod(method, "Get") || IsRayMethod(method, "GetAsync")) && invocation.Arguments.Length > 0 &&
            !IsObjectRef(method.Parameters[0].Type))
        {
            list = Operations.Unwrap(ArgumentFor(invocation, method.Parameters[0]));
            return list is not null;
        }

        return false;
    }

    /// <summary>
    /// A wait for one ref's value that blocks the thread: <c>r.Get()</c> or <c>Ray.Get(r)</c>.
    /// <paramref name="reference"/> is the ref expression.
    /// </summary>
    public bool IsBlockingGet(IOperation? operation, out IOperation? reference)
    {
        reference = null;
        if (operation is not IInvocationOperation invocation || invocation.TargetMethod.Name != "Get")
        {
            return false;
        }

        if (invocation.Instance is { } instance && Same(invocation.TargetMethod.ContainingType.OriginalDefinition, _symbols.ObjectRefOfT))
        {
            reference = Operations.Unwrap(instance);
        }
        else if (Same(invocation.TargetMethod.ContainingType, Ray) && invocation.TargetMethod.Parameters.Length > 0 &&
            IsObjectRef(invocation.TargetMethod.Parameters[0].Type))
        {
            reference = Operations.Unwrap(ArgumentFor(invocation, invocation.TargetMethod.Parameters[0]));
        }

        return reference is not null;
    }

    /// <summary>A blocking get, or <c>await r</c> of an <c>ObjectRef&lt;T&gt;</c>: anything that produces the value of one ref.</summary>
    public bool IsValueFetch(IOperation? operation, out IOperation? reference)
    {
        if (operation is IAwaitOperation awaited && IsTypedObjectRef(Operations.Unwrap(awaited.Operation)?.Type))
        {
            reference = Operations.Unwrap(awaited.Operation);
            return true;
        }

        return IsBlockingGet(operation, out reference);
    }

    /// <summary>The get or await that fetches the value of <paramref name="reference"/>, when that is what consumes it; null otherwise.</summary>
    public IOperation? FetchOf(IOperation reference)
    {
        var consumer = Operations.ConsumerOf(reference);
        if (consumer is IArgumentOperation argument)
        {
            consumer = argument.Parent;
        }

        return IsValueFetch(consumer, out var fetched) && fetched == reference ? consumer : null;
    }

    /// <summary>
    /// A call of a generated proxy: <c>X.Remote.M(...)</c> (<c>RemoteProxy</c> nested in a type with remote
    /// members) or <c>handle.M(...)</c> (an extension on <c>ActorHandle&lt;X&gt;</c> of an actor class) that
    /// submits work and returns refs. Creating an actor is not counted: it returns a handle, not a ref.
    /// </summary>
    public bool IsRemoteCall(IOperation? operation, out IMethodSymbol proxy) =>
        IsRemoteCall(operation, out proxy, out _);

    public bool IsRemoteCall(IOperation? operation, out IMethodSymbol proxy, out INamedTypeSymbol declaringType)
    {
        proxy = null!;
        declaringType = null!;
        if (Operations.Unwrap(operation) is not IInvocationOperation invocation ||
            !ReturnsReferences(invocation.TargetMethod.ReturnType))
        {
            return false;
        }

        proxy = invocation.TargetMethod;
        if (proxy.ContainingType is { Name: "RemoteProxy", TypeKind: TypeKind.Struct, ContainingType: { } owner } &&
            HasRemoteMembers(owner))
        {
            declaringType = owner;
            return true;
        }

        if (proxy.IsExtensionMethod && proxy.Parameters.Length > 0 &&
            proxy.Parameters[0].Type is INamedTypeSymbol { IsGenericType: true } handle && IsActorHandle(handle) &&
            handle.TypeArguments[0] is INamedTypeSymbol actor && HasAttribute(actor, RayRemoteAttribute))
        {
            declaringType = actor;
            return true;
        }

        return false;
    }

    /// <summary>
    /// The user's method a proxy call runs: same name, and the proxy's parameters (<c>Arg&lt;T&gt;</c> or the
    /// type itself) match the method's, leaving out the runtime-supplied CancellationToken. Null when unsure.
    /// </summary>
    public IMethodSymbol? RemoteTarget(IMethodSymbol proxy, INamedTypeSymbol declaringType)
    {
        var isActorCall = proxy.IsExtensionMethod;
        var proxyParameters = proxy.Parameters.Skip(isActorCall ? 1 : 0).Select(p => ArgValueType(p.Type)).ToList();
        var candidates = declaringType.GetMembers(proxy.Name).OfType<IMethodSymbol>()
            .Where(m => m.MethodKind == MethodKind.Ordinary && m.IsStatic != isActorCall &&
                (isActorCall || HasAttribute(m, RayRemoteAttribute)) &&
                m.Parameters.Where(p => !_symbols.IsCancellationToken(p.Type)).Select(p => p.Type)
                    .SequenceEqual(proxyParameters, ProxyParameterComparer.For(_symbols)))
            .ToList();
        return candidates.Count == 1 ? candidates[0] : null;
    }

    /// <summary>Matches a remote method's parameter type with its proxy's: the same type, or <c>T[]</c> for <c>ObjectView&lt;T&gt;</c>.</summary>
    private sealed class ProxyParameterComparer : IEqualityComparer<ITypeSymbol>
    {
        private readonly RaySymbols _symbols;

        private ProxyParameterComparer(RaySymbols symbols) => _symbols = symbols;

        public static ProxyParameterComparer For(RaySymbols symbols) => new(symbols);

        public bool Equals(ITypeSymbol? method, ITypeSymbol? proxy) =>
            SymbolEqualityComparer.Default.Equals(method, proxy) ||
            (_symbols.IsObjectView(method) && proxy is IArrayTypeSymbol { Rank: 1 } array &&
             SymbolEqualityComparer.Default.Equals(((INamedTypeSymbol)method!).TypeArguments[0], array.ElementType));

        public int GetHashCode(ITypeSymbol obj) => 0;
    }

    private ITypeSymbol ArgValueType(ITypeSymbol type) =>
        RaySymbols.IsConstructedFrom(type, Arg) ? ((INamedTypeSymbol)type).TypeArguments[0] : type;

    /// <summary>"Type.Method" of the remote method a proxy call runs.</summary>
    public static string RemoteName(IMethodSymbol proxy, INamedTypeSymbol declaringType) =>
        declaringType.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat) + "." + proxy.Name;

    /// <summary>True when the parameter of a proxy accepts an <c>ObjectRef&lt;T&gt;</c> of <paramref name="valueType"/> (an <c>Arg&lt;T&gt;</c>).</summary>
    public bool AcceptsRefOf(IParameterSymbol parameter, ITypeSymbol valueType) =>
        RaySymbols.IsConstructedFrom(parameter.Type, Arg) &&
        SymbolEqualityComparer.Default.Equals(((INamedTypeSymbol)parameter.Type).TypeArguments[0], valueType);

    /// <summary>A remote method: a static [RayRemote] method, or a public instance method of an actor class.</summary>
    public bool IsRemoteMethod(IMethodSymbol method)
    {
        if (method.MethodKind != MethodKind.Ordinary)
        {
            return false;
        }

        return method.IsStatic
            ? HasAttribute(method, RayRemoteAttribute)
            : method.DeclaredAccessibility == Accessibility.Public && method.ContainingType.TypeKind == TypeKind.Class &&
              HasAttribute(method.ContainingType, RayRemoteAttribute);
    }

    /// <summary>A remote method, or a public constructor of an actor class: code the runtime calls with deserialized arguments.</summary>
    public bool IsRemoteEntry(IMethodSymbol method) =>
        IsRemoteMethod(method) ||
        (method.MethodKind == MethodKind.Constructor && !method.IsStatic && method.DeclaredAccessibility == Accessibility.Public &&
         method.ContainingType.TypeKind == TypeKind.Class && HasAttribute(method.ContainingType, RayRemoteAttribute));

    private bool ReturnsReferences(ITypeSymbol type) =>
        IsObjectRef(type) || (type is INamedTypeSymbol { IsTupleType: true } tuple && tuple.TupleElements.Any(e => IsObjectRef(e.Type))) ||
        type.Name == "ObjectRefStream" && Same(type.ContainingAssembly as ISymbol, Ray.ContainingAssembly);

    private bool HasRemoteMembers(INamedTypeSymbol type) =>
        HasAttribute(type, RayRemoteAttribute) || type.GetMembers().Any(m => m is IMethodSymbol && HasAttribute(m, RayRemoteAttribute));

    private bool HasAttribute(ISymbol symbol, INamedTypeSymbol attribute) => _symbols.FindAttribute(symbol, attribute) is not null;

    public static IOperation? ArgumentFor(IInvocationOperation invocation, IParameterSymbol parameter) =>
        invocation.Arguments.FirstOrDefault(a => SymbolEqualityComparer.Default.Equals(a.Parameter?.OriginalDefinition, parameter.OriginalDefinition))?.Value;

    private static bool DerivesFrom(ITypeSymbol? type, INamedTypeSymbol? baseType)
    {
        for (var current = type; current is not null && baseType is not null; current = current.BaseType)
        {
            if (Same(current, baseType))
            {
                return true;
            }
        }

        return false;
    }

    public static bool Same(ISymbol? a, ISymbol? b) => a is not null && b is not null && SymbolEqualityComparer.Default.Equals(a, b);
}
