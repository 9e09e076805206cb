using System.Linq;
using Microsoft.CodeAnalysis;

namespace RaySharp.Analyzers.Model;

/// <summary>
/// The canonical signature of a remote member, computed exactly as the generator does
/// (docs/generated-code.md): <c>Namespace.Type.Name(paramType,...)</c> without CancellationToken
/// parameters. Its function ID is <see cref="RaySharp.Internal.FunctionIdHash"/> of it, the generator's own code.
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
