using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace RaySharp.Analyzers.Model;

/// <summary>Reads named attribute arguments from <see cref="AttributeData"/> and finds where they were written.</summary>
internal static class AttributeArguments
{
    public static bool TryGet(AttributeData? attribute, string name, out TypedConstant value)
    {
        if (attribute is not null)
        {
            foreach (var argument in attribute.NamedArguments)
            {
                if (argument.Key == name)
                {
                    value = argument.Value;
                    return true;
                }
            }
        }

        value = default;
        return false;
    }

    public static string? GetString(AttributeData? attribute, string name) =>
        TryGet(attribute, name, out var value) && value.Kind == TypedConstantKind.Primitive ? value.Value as string : null;

    /// <summary>The <c>Name = value</c> syntax of a named argument, or null when the attribute is not in source.</summary>
    public static AttributeArgumentSyntax? FindSyntax(AttributeData attribute, string name, CancellationToken cancellationToken)
    {
        if (attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken) is not AttributeSyntax syntax ||
            syntax.ArgumentList is null)
        {
            return null;
        }

        foreach (var argument in syntax.ArgumentList.Arguments)
        {
            if (argument.NameEquals?.Name.Identifier.ValueText == name)
            {
                return argument;
            }
        }

        return null;
    }

    /// <summary>Where to report a problem with a named argument: the argument, else the attribute, else the symbol.</summary>
    public static Location Locate(AttributeData attribute, string name, ISymbol fallback, CancellationToken cancellationToken)
    {
        if (FindSyntax(attribute, name, cancellationToken) is { } argument)
        {
            return argument.GetLocation();
        }

        if (attribute.ApplicationSyntaxReference is { } reference)
        {
            return Location.Create(reference.SyntaxTree, reference.Span);
        }

        return SymbolLocations.Identifier(fallback);
    }
}
