using System.Linq;
using Microsoft.CodeAnalysis;

namespace RaySharp.Analyzers.Model;

/// <summary>
/// The canonical signature and function ID of a remote member, computed exactly as the generator does
/// (docs/generated-code.md): <c>Namespace.Type.Name(paramType,...)</c> without CancellationToken
/// parameters, hashed with FNV-1a 64 over UTF-16 code units (RaySharp.Internal.FunctionIds).
/// </summary>
internal static class FunctionSignatures
{
    private static readonly SymbolDisplayFormat ParameterFormat =
        SymbolDisplayFormat.FullyQualifiedFormat.WithGlobalNamespaceStyle(SymbolDisplayGlobalNamespaceStyle.Omitted);

    public static string Canonical(RemoteMember member, RaySymbols symbols)
    {
        var method = member.Method;
        var name = member.NameOverride ?? (method.MethodKind == MethodKind.Constructor ? ".ctor" : method.Name);
        var parameters = method.Parameters
            .Where(p => !symbols.IsCancellationToken(p.Type))
            .Select(p => p.Type.ToDisplayString(ParameterFormat));
        return TypeName(method.ContainingType) + "." + name + "(" + string.Join(",", parameters) + ")";
    }

    public static ulong Compute(string signature)
    {
        unchecked
        {
            ulong hash = 14695981039346656037UL;
            foreach (var c in signature)
            {
                hash = (hash ^ (byte)c) * 1099511628211UL;
                hash = (hash ^ (byte)(c >> 8)) * 1099511628211UL;
            }

            return hash;
        }
    }

    private static string TypeName(INamedTypeSymbol type)
    {
        if (type.ContainingType is { } containing)
        {
            return TypeName(containing) + "." + type.Name;
        }

        var ns = type.ContainingNamespace;
        return ns is null || ns.IsGlobalNamespace ? type.Name : ns.ToDisplayString() + "." + type.Name;
    }
}
