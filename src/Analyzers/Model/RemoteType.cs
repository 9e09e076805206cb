using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace RaySharp.Analyzers.Model;

/// <summary>How a method takes part in remoting, as the source generator sees it.</summary>
internal enum RemoteMemberKind
{
    /// <summary>A static method marked [RayRemote]: a remote function.</summary>
    Task,

    /// <summary>A public constructor of an actor class: becomes <c>Remote.Create</c>.</summary>
    ActorConstructor,

    /// <summary>A public instance method of an actor class: becomes an extension on <c>ActorHandle&lt;T&gt;</c>.</summary>
    ActorMethod,

    /// <summary>[RayRemote] on an instance method of a type that is not an actor: not supported.</summary>
    InstanceMethodOfNonActor,

    /// <summary>[RayRemote] on a non-public instance method of an actor: never callable remotely.</summary>
    NonPublicActorMethod,
}

internal sealed class RemoteMember
{
    public RemoteMember(IMethodSymbol method, RemoteMemberKind kind, AttributeData? remoteAttribute, AttributeData? methodAttribute)
    {
        Method = method;
        Kind = kind;
        RemoteAttribute = remoteAttribute;
        MethodAttribute = methodAttribute;
    }

    public IMethodSymbol Method { get; }

    public RemoteMemberKind Kind { get; }

    /// <summary>[RayRemote] on the method itself, if any.</summary>
    public AttributeData? RemoteAttribute { get; }

    /// <summary>[RayMethod] on the method, if any.</summary>
    public AttributeData? MethodAttribute { get; }

    /// <summary>True for the members the generator emits a descriptor and a proxy for.</summary>
    public bool IsCallable => Kind is RemoteMemberKind.Task or RemoteMemberKind.ActorConstructor or RemoteMemberKind.ActorMethod;

    /// <summary>The remote name override ([RayMethod(Name)] first, then [RayRemote(Name)]), or null.</summary>
    public string? NameOverride =>
        AttributeArguments.GetString(MethodAttribute, "Name") ?? AttributeArguments.GetString(RemoteAttribute, "Name");

    /// <summary>"Type.Method" as users read it in messages.</summary>
    public string DisplayName => Method.MethodKind == MethodKind.Constructor
        ? Method.ContainingType.ToDisplayString(SymbolDisplayFormat.CSharpShortErrorMessageFormat) + " constructor"
        : Method.ContainingType.ToDisplayString(SymbolDisplayFormat.CSharpShortErrorMessageFormat) + "." + Method.Name;
}

/// <summary>A type that declares [RayRemote] members (remote functions) or is itself an actor class.</summary>
internal sealed class RemoteType
{
    private RemoteType(INamedTypeSymbol type, AttributeData? actorAttribute, ImmutableArray<RemoteMember> members)
    {
        Type = type;
        ActorAttribute = actorAttribute;
        Members = members;
    }

    public INamedTypeSymbol Type { get; }

    /// <summary>[RayRemote] on the class, when the class is an actor.</summary>
    public AttributeData? ActorAttribute { get; }

    public bool IsActor => ActorAttribute is not null;

    /// <summary>Remote members in source order.</summary>
    public ImmutableArray<RemoteMember> Members { get; }

    /// <summary>Null when <paramref name="type"/> has nothing to do with remoting.</summary>
    public static RemoteType? TryCreate(INamedTypeSymbol type, RaySymbols symbols)
    {
        var actorAttribute = type.TypeKind == TypeKind.Class ? symbols.FindAttribute(type, symbols.RayRemoteAttribute) : null;
        var members = ImmutableArray.CreateBuilder<RemoteMember>();

        foreach (var member in type.GetMembers())
        {
            if (member is not IMethodSymbol method)
            {
                continue;
            }

            var remote = symbols.FindAttribute(method, symbols.RayRemoteAttribute);
            var rayMethod = symbols.FindAttribute(method, symbols.RayMethodAttribute);
            var kind = Classify(method, remote, actorAttribute is not null);
            if (kind is { } k)
            {
                members.Add(new RemoteMember(method, k, remote, rayMethod));
            }
        }

        if (actorAttribute is null && members.Count == 0)
        {
            return null;
        }

        var ordered = members.OrderBy(m => SourceOrder(m.Method), SourceOrderComparer.Instance).ToImmutableArray();
        return new RemoteType(type, actorAttribute, ordered);
    }

    private static RemoteMemberKind? Classify(IMethodSymbol method, AttributeData? remote, bool isActor)
    {
        if (method.MethodKind == MethodKind.Ordinary && method.IsStatic)
        {
            return remote is null ? null : RemoteMemberKind.Task;
        }

        if (!isActor)
        {
            return method.MethodKind == MethodKind.Ordinary && remote is not null
                ? RemoteMemberKind.InstanceMethodOfNonActor
                : null;
        }

        if (method.MethodKind == MethodKind.Constructor)
        {
            return method.DeclaredAccessibility == Accessibility.Public ? RemoteMemberKind.ActorConstructor : null;
        }

        if (method.MethodKind != MethodKind.Ordinary || method.IsImplicitlyDeclared)
        {
            return null;
        }

        if (method.DeclaredAccessibility != Accessibility.Public)
        {
            return remote is null ? null : RemoteMemberKind.NonPublicActorMethod;
        }

        // ToString/Equals/GetHashCode overrides are part of every object, not the actor's remote surface.
        return OverridesObjectMember(method) ? null : RemoteMemberKind.ActorMethod;
    }

    private static bool OverridesObjectMember(IMethodSymbol method)
    {
        var current = method;
        while (current.IsOverride && current.OverriddenMethod is { } overridden)
        {
            current = overridden;
        }

        return current.ContainingType.SpecialType == SpecialType.System_Object;
    }

    private static (string Path, int Position) SourceOrder(ISymbol symbol)
    {
        var location = symbol.Locations.FirstOrDefault(l => l.IsInSource);
        return location is null ? (string.Empty, 0) : (location.SourceTree!.FilePath, location.SourceSpan.Start);
    }

    private sealed class SourceOrderComparer : IComparer<(string Path, int Position)>
    {
        public static readonly SourceOrderComparer Instance = new();

        public int Compare((string Path, int Position) x, (string Path, int Position) y)
        {
            var byPath = string.CompareOrdinal(x.Path, y.Path);
            return byPath != 0 ? byPath : x.Position.CompareTo(y.Position);
        }
    }
}
