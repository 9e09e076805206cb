using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using RaySharp.Analyzers.Model;
using RaySharp.Internal;

namespace RaySharp.Analyzers;

/// <summary>
/// RAY006: two remote members of a type share a function ID, or would get the same generated proxy
/// (overloads that differ only in CancellationToken parameters or parameter modifiers).
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
                if (Explain(entries[i], entries[j]) is { } problem)
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

    private static string? Explain(Entry later, Entry earlier)
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

        return null;
    }

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
            ProxyParameters = member.Method.Parameters
                .Where(p => !symbols.IsCancellationToken(p.Type))
                .Select(p => p.Type)
                .ToImmutableArray();
            HasCancellationToken = member.Method.Parameters.Length != ProxyParameters.Length;
        }

        public RemoteMember Member { get; }

        public string Signature { get; }

        public ulong FunctionId { get; }

        public RemoteMemberKind ProxyGroup { get; }

        public string ProxyName { get; }

        public ImmutableArray<ITypeSymbol> ProxyParameters { get; }

        public bool HasCancellationToken { get; }

        public string ProxyDisplay => ProxyName + "(" + string.Join(", ", ProxyParameters.Select(WireTypes.Display)) + ")";
    }
}
