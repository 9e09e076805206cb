using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using RaySharp.Analyzers.Model;
using RaySharp.Internal;

namespace RaySharp.Analyzers;

/// <summary>
/// RAY006: two remote members of a type share a function ID, would get the same generated proxy
/// (overloads that differ only in CancellationToken parameters or parameter modifiers), or get proxies
/// that a call passing a ref cannot choose between (overloads that differ only by <c>T</c> against
/// <c>ObjectRef&lt;T&gt;</c> in some positions: the proxy takes a <c>T</c> parameter as <c>Arg&lt;T&gt;</c>,
/// which accepts a value or a ref).
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class FunctionIdAnalyzer : RemoteTypeAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
        ImmutableArray.Create(DiagnosticDescriptors.FunctionIdCollision);

    private protected override void AnalyzeRemoteType(SymbolAnalysisContext context, INamedTypeSymbol type, RemoteType remote, RaySymbols symbols)
    {
        var entries = remote.Members
            .Where(m => m.IsCallable)
            .Select(m => new Entry(m, symbols))
            .ToList();

        for (var i = 1; i < entries.Count; i++)
        {
            for (var j = 0; j < i; j++)
            {
                if (Explain(entries[i], entries[j], symbols) is { } problem)
                {
                    context.ReportDiagnostic(Diagnostic.Create(
                        DiagnosticDescriptors.FunctionIdCollision,
                        SymbolLocations.Identifier(entries[i].Member.Method),
                        Describe(entries[i]),
                        Describe(entries[j]),
                        problem));
                    break;
                }
            }
        }
    }

    private static string? Explain(Entry later, Entry earlier, RaySymbols symbols)
    {
        if (later.FunctionId == earlier.FunctionId)
        {
            return later.Signature == earlier.Signature
                ? $"both get the function ID of '{later.Signature}'; rename one, or give one an explicit Name"
                : $"'{later.Signature}' and '{earlier.Signature}' hash to the same function ID; give one an explicit Name";
        }

        if (later.ProxyGroup == earlier.ProxyGroup && later.ProxyName == earlier.ProxyName &&
            later.ProxyParameters.SequenceEqual<ITypeSymbol, ITypeSymbol>(earlier.ProxyParameters, SymbolEqualityComparer.Default))
        {
            var why = later.HasCancellationToken || earlier.HasCancellationToken
                ? " (CancellationToken parameters are supplied by the runtime and are not part of the proxy)"
                : " (parameter modifiers are not part of the proxy)";
            return $"both would get the generated proxy '{later.ProxyDisplay}'{why}; rename one";
        }

        if (later.ProxyGroup == earlier.ProxyGroup && later.ProxyName == earlier.ProxyName &&
            ValueOrRefPositions(later, earlier, symbols) is { Count: > 0 } positions)
        {
            var names = string.Join(", ", positions.Select(p =>
                $"'{p.Name}' ({WireTypes.Display(p.Value)} or {WireTypes.Display(p.Reference)})"));
            return $"they differ only by T against ObjectRef<T> in parameter{(positions.Count > 1 ? "s" : "")} {names}; " +
                "the generated proxy takes a T parameter as Arg<T>, which accepts a value or a ref, so a call passing a ref there " +
                "cannot say which of the two it means; rename one (a Name override does not rename the proxy)";
        }

        return null;
    }

    /// <summary>
    /// The parameter positions where one proxy takes <c>Arg&lt;T&gt;</c> and the other <c>ObjectRef&lt;T&gt;</c>,
    /// when every other position has the same type; empty otherwise.
    /// </summary>
    private static List<(string Name, ITypeSymbol Value, ITypeSymbol Reference)> ValueOrRefPositions(
        Entry later, Entry earlier, RaySymbols symbols)
    {
        var positions = new List<(string, ITypeSymbol, ITypeSymbol)>();
        if (later.ProxyParameters.Length != earlier.ProxyParameters.Length)
        {
            return positions;
        }

        for (var i = 0; i < later.ProxyParameters.Length; i++)
        {
            var (a, b) = (later.ProxyParameters[i], earlier.ProxyParameters[i]);
            if (SymbolEqualityComparer.Default.Equals(a, b))
            {
                continue;
            }

            if (RefOf(a, b, symbols))
            {
                positions.Add((later.ProxyParameterNames[i], b, a));
            }
            else if (RefOf(b, a, symbols))
            {
                positions.Add((later.ProxyParameterNames[i], a, b));
            }
            else
            {
                positions.Clear();
                return positions;
            }
        }

        return positions;
    }

    /// <summary>
    /// True when <paramref name="reference"/> is <c>ObjectRef&lt;value&gt;</c> and the proxy takes
    /// <paramref name="value"/> as <c>Arg&lt;value&gt;</c> (it holds no refs, as the generator decides).
    /// </summary>
    private static bool RefOf(ITypeSymbol reference, ITypeSymbol value, RaySymbols symbols) =>
        RaySymbols.IsConstructedFrom(reference, symbols.ObjectRefOfT) &&
        SymbolEqualityComparer.Default.Equals(((INamedTypeSymbol)reference).TypeArguments[0], value) &&
        !HoldsRefs(value, depth: 0);

    /// <summary>The generator's test (ModelBuilder.HoldsRefs): such parameters are kept as <c>T</c> in the proxy.</summary>
    private static bool HoldsRefs(ITypeSymbol type, int depth) => depth <= 8 && type switch
    {
        IArrayTypeSymbol array => HoldsRefs(array.ElementType, depth + 1),
        INamedTypeSymbol { Name: "ObjectRef" or "ActorHandle" or "ObjectRefStream" } named
            when named.ContainingNamespace?.ToDisplayString() == "RaySharp" => true,
        INamedTypeSymbol { IsTupleType: true } tuple => tuple.TupleElements.Any(e => HoldsRefs(e.Type, depth + 1)),
        INamedTypeSymbol named => named.TypeArguments.Any(t => HoldsRefs(t, depth + 1)),
        _ => false,
    };

    private static string Describe(Entry entry)
    {
        var method = entry.Member.Method;
        var parameters = string.Join(", ", method.Parameters.Select(p => WireTypes.Display(p.Type)));
        return entry.Member.DisplayName + "(" + parameters + ")";
    }

    private sealed class Entry
    {
        public Entry(RemoteMember member, RaySymbols symbols)
        {
            Member = member;
            Signature = FunctionSignatures.Canonical(member, symbols);
            FunctionId = FunctionIdHash.Compute(Signature);
            ProxyGroup = member.Kind;
            ProxyName = member.Kind == RemoteMemberKind.ActorConstructor ? "Create" : member.Method.Name;
            var proxyParameters = member.Method.Parameters.Where(p => !symbols.IsCancellationToken(p.Type)).ToList();
            ProxyParameters = proxyParameters.Select(p => p.Type).ToImmutableArray();
            ProxyParameterNames = proxyParameters.Select(p => p.Name).ToImmutableArray();
            HasCancellationToken = member.Method.Parameters.Length != ProxyParameters.Length;
        }

        public RemoteMember Member { get; }

        public string Signature { get; }

        public ulong FunctionId { get; }

        public RemoteMemberKind ProxyGroup { get; }

        public string ProxyName { get; }

        public ImmutableArray<ITypeSymbol> ProxyParameters { get; }

        public ImmutableArray<string> ProxyParameterNames { get; }

        public bool HasCancellationToken { get; }

        public string ProxyDisplay => ProxyName + "(" + string.Join(", ", ProxyParameters.Select(WireTypes.Display)) + ")";
    }
}
