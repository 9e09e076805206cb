using System.Collections.Concurrent;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;
using RaySharp.Analyzers.Model;

namespace RaySharp.Analyzers.AntiPatterns;

/// <summary>
/// The RaySharp API as the anti-pattern rules see it: which calls submit remote work, which calls block on a
/// ref, and which methods are remote code. Resolved once per compilation; null when RaySharp is not referenced.
/// </summary>
internal sealed class RayApi
{
    private readonly ConcurrentDictionary<INamedTypeSymbol, RemoteType?> _remoteTypes = new(SymbolEqualityComparer.Default);

    private RayApi(Compilation compilation, RaySymbols symbols, INamedTypeSymbol ray)
    {
        Compilation = compilation;
        Symbols = symbols;
        Ray = ray;
        Arg = compilation.GetTypeByMetadataName("RaySharp.Arg`1");
        ObjectRefStream = compilation.GetTypeByMetadataName("RaySharp.ObjectRefStream`1");
        RayException = compilation.GetTypeByMetadataName("RaySharp.RayException");
        RayTaskException = compilation.GetTypeByMetadataName("RaySharp.RayTaskException");
        Exception = compilation.GetTypeByMetadataName("System.Exception");
        Process = compilation.GetTypeByMetadataName("System.Diagnostics.Process");
        Console = compilation.GetTypeByMetadataName("System.Console");
    }

    public Compilation Compilation { get; }

    public RaySymbols Symbols { get; }

    public INamedTypeSymbol Ray { get; }

    public INamedTypeSymbol? Arg { get; }

    public INamedTypeSymbol? ObjectRefStream { get; }

    public INamedTypeSymbol? RayException { get; }

    public INamedTypeSymbol? RayTaskException { get; }

    public INamedTypeSymbol? Exception { get; }

    public INamedTypeSymbol? Process { get; }

    public INamedTypeSymbol? Console { get; }

    /// <summary>The assembly that defines RaySharp's public API.</summary>
    public IAssemblySymbol RaySharpAssembly => Ray.ContainingAssembly;

    public static RayApi? TryCreate(Compilation compilation) =>
        RaySymbols.TryCreate(compilation) is { } symbols && compilation.GetTypeByMetadataName("RaySharp.Ray") is { } ray
            ? new RayApi(compilation, symbols, ray)
            : null;

    /// <summary>ObjectRef, ObjectRef&lt;T&gt; or any other subclass of ObjectRef.</summary>
    public bool IsObjectRef(ITypeSymbol? type)
    {
        for (var current = type; current is not null; current = current.BaseType)
        {
            if (RaySymbols.Is(current, Symbols.ObjectRef))
            {
                return true;
            }
        }

        return false;
    }

    public bool IsArg(ITypeSymbol? type) => RaySymbols.IsConstructedFrom(type, Arg);

    public bool IsActorHandleOf(ITypeSymbol? type, out ITypeSymbol actorType)
    {
        if (RaySymbols.IsConstructedFrom(type, Symbols.ActorHandleOfT))
        {
            actorType = ((INamedTypeSymbol)type!).TypeArguments[0];
            return true;
        }

        actorType = null!;
        return false;
    }

    public bool IsRayMethod(IMethodSymbol method, string name) =>
        method.Name == name && RaySymbols.Is(method.ContainingType, Ray);

    public bool IsFromRaySharp(ISymbol symbol) =>
        SymbolEqualityComparer.Default.Equals(symbol.ContainingAssembly, RaySharpAssembly);

    /// <summary>The remote model of <paramref name="type"/>, or null when it declares nothing remote.</summary>
    public RemoteType? GetRemoteType(INamedTypeSymbol type) =>
        _remoteTypes.GetOrAdd(type, t => RemoteType.TryCreate(t, Symbols));

    /// <summary>The remote member <paramref name="method"/> is (a task, an actor method or constructor), or null.</summary>
    public RemoteMember? GetRemoteMember(IMethodSymbol method)
    {
        if (GetRemoteType(method.ContainingType) is not { } remote)
        {
            return null;
        }

        foreach (var member in remote.Members)
        {
            if (member.IsCallable && SymbolEqualityComparer.Default.Equals(member.Method, method.OriginalDefinition))
            {
                return member;
            }
        }

        return null;
    }

    /// <summary>
    /// True for a generated proxy call: <c>X.Remote.Method(...)</c>, <c>X.Remote.Create(...)</c> (members of a
    /// struct nested in a remote type) or an actor method (an extension on <c>ActorHandle&lt;T&gt;</c> of an actor).
    /// </summary>
    public bool IsRemoteCall(IMethodSymbol method) => IsActorMethodCall(method, out _) || IsProxyMemberCall(method);

    /// <summary>True for <c>handle.Method(...)</c>, with the actor class it calls.</summary>
    public bool IsActorMethodCall(IMethodSymbol method, out ITypeSymbol actorType)
    {
        var definition = method.ReducedFrom ?? method;
        actorType = null!;
        return definition.IsExtensionMethod && definition.Parameters.Length > 0 &&
            IsActorHandleOf(definition.Parameters[0].Type, out actorType) &&
            actorType is INamedTypeSymbol actor && GetRemoteType(actor) is { IsActor: true } &&
            ReturnsRemoteResult(method.ReturnType);
    }

    private bool IsProxyMemberCall(IMethodSymbol method) =>
        !method.IsStatic && IsProxy(method.ContainingType) && ReturnsRemoteResult(method.ReturnType);

    /// <summary>The generated proxy struct of a remote type (what <c>X.Remote</c> and <c>WithOptions</c> return).</summary>
    public bool IsProxy(ITypeSymbol? type) =>
        type is INamedTypeSymbol { TypeKind: TypeKind.Struct, ContainingType: { } owner } && GetRemoteType(owner) is not null;

    /// <summary><c>X.Remote</c>, <c>X.Remote.WithOptions(...)</c> and the calls through them: generated, and harmless.</summary>
    public bool IsProxyMember(ISymbol member) => member switch
    {
        IPropertySymbol property => IsProxy(property.Type),
        IMethodSymbol method => IsProxy(method.ContainingType) || IsRemoteCall(method),
        _ => false,
    };

    private bool ReturnsRemoteResult(ITypeSymbol type) =>
        IsObjectRef(type) || RaySymbols.IsConstructedFrom(type, Symbols.ActorHandleOfT) ||
        RaySymbols.IsConstructedFrom(type, ObjectRefStream) ||
        (type.IsTupleType && type is INamedTypeSymbol tuple && tuple.TupleElements.Length > 0 && AllObjectRefs(tuple));

    private bool AllObjectRefs(INamedTypeSymbol tuple)
    {
        foreach (var element in tuple.TupleElements)
        {
            if (!IsObjectRef(element.Type))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The member whose body <paramref name="symbol"/> belongs to runs remotely (a task, actor method or constructor).</summary>
    public RemoteMember? GetRemoteCodeOwner(ISymbol symbol) =>
        symbol is IMethodSymbol method && method.ContainingType is not null ? GetRemoteMember(method) : null;

    /// <summary>Looks through implicit conversions (to a base type, to <c>Arg&lt;T&gt;</c>, ...).</summary>
    public static IOperation Unwrap(IOperation operation)
    {
        while (operation is IConversionOperation { IsImplicit: true } conversion)
        {
            operation = conversion.Operand;
        }

        return operation;
    }

    /// <summary>The innermost lambda, local function or member body that <paramref name="operation"/> runs in.</summary>
    public static IOperation? EnclosingFunction(IOperation operation)
    {
        for (var current = operation.Parent; current is not null; current = current.Parent)
        {
            if (current is IAnonymousFunctionOperation or ILocalFunctionOperation)
            {
                return current;
            }

            if (current.Parent is null)
            {
                return current;
            }
        }

        return null;
    }
}
