using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace RaySharp.Analyzers.Model;

/// <summary>Maps symbols to the exact piece of source a diagnostic should underline.</summary>
internal static class SymbolLocations
{
    /// <summary>The symbol's name in its first source declaration (for types and methods, the identifier).</summary>
    public static Location Identifier(ISymbol symbol) =>
        symbol.Locations.FirstOrDefault(l => l.IsInSource) ?? Location.None;

    /// <summary>The written type of a parameter (<c>Stream</c> in <c>Stream s</c>), else the parameter's name.</summary>
    public static Location ParameterType(IParameterSymbol parameter, CancellationToken cancellationToken)
    {
        foreach (var reference in parameter.DeclaringSyntaxReferences)
        {
            if (reference.GetSyntax(cancellationToken) is ParameterSyntax { Type: { } type })
            {
                return type.GetLocation();
            }
        }

        return Identifier(parameter);
    }

    /// <summary>The whole parameter (<c>ref int x</c>), else the parameter's name.</summary>
    public static Location Parameter(IParameterSymbol parameter, CancellationToken cancellationToken)
    {
        foreach (var reference in parameter.DeclaringSyntaxReferences)
        {
            if (reference.GetSyntax(cancellationToken) is ParameterSyntax syntax)
            {
                return syntax.GetLocation();
            }
        }

        return Identifier(parameter);
    }

    /// <summary>The written return type of a method, else the method's name.</summary>
    public static Location ReturnType(IMethodSymbol method, CancellationToken cancellationToken)
    {
        foreach (var reference in method.DeclaringSyntaxReferences)
        {
            if (reference.GetSyntax(cancellationToken) is MethodDeclarationSyntax syntax)
            {
                return syntax.ReturnType.GetLocation();
            }
        }

        return Identifier(method);
    }
}
