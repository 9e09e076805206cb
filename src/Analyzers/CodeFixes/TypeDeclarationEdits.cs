using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace RaySharp.Analyzers.CodeFixes;

/// <summary>Small, trivia-preserving edits to type declarations shared by the code fixes.</summary>
internal static class TypeDeclarationEdits
{
    public static bool IsPartial(TypeDeclarationSyntax node) => node.Modifiers.Any(SyntaxKind.PartialKeyword);

    /// <summary>Adds <c>partial</c> as the last modifier, where C# requires it (right before the keyword).</summary>
    public static TypeDeclarationSyntax AddPartial(TypeDeclarationSyntax node)
    {
        if (IsPartial(node))
        {
            return node;
        }

        var partial = SyntaxFactory.Token(SyntaxKind.PartialKeyword).WithTrailingTrivia(SyntaxFactory.Space);
        if (node.Modifiers.Count > 0)
        {
            return node.WithModifiers(node.Modifiers.Add(partial));
        }

        // No modifiers: the keyword carries the indentation (and any comments); hand it to 'partial'.
        var keyword = node.Keyword;
        partial = partial.WithLeadingTrivia(keyword.LeadingTrivia);
        return node
            .ReplaceToken(keyword, keyword.WithLeadingTrivia(SyntaxFactory.TriviaList()))
            .WithModifiers(SyntaxFactory.TokenList(partial));
    }

    /// <summary>Puts <c>[MemoryPack.MemoryPackable]</c> on its own line above the declaration, after any doc comment.</summary>
    public static TypeDeclarationSyntax AddMemoryPackable(TypeDeclarationSyntax node, SyntaxTrivia endOfLine)
    {
        var first = node.GetFirstToken();
        var leading = first.LeadingTrivia;
        var indentation = leading.Count > 0 && leading[leading.Count - 1].IsKind(SyntaxKind.WhitespaceTrivia)
            ? SyntaxFactory.TriviaList(leading[leading.Count - 1])
            : SyntaxFactory.TriviaList();

        var attributeList = SyntaxFactory.AttributeList(
                SyntaxFactory.SingletonSeparatedList(
                    SyntaxFactory.Attribute(SyntaxFactory.ParseName("MemoryPack.MemoryPackable"))))
            .WithLeadingTrivia(leading)
            .WithTrailingTrivia(endOfLine);

        var updated = node.ReplaceToken(first, first.WithLeadingTrivia(indentation));
        return updated.WithAttributeLists(updated.AttributeLists.Insert(0, attributeList));
    }

    /// <summary>The document's line ending, so inserted lines match the lines around them.</summary>
    public static SyntaxTrivia EndOfLine(SyntaxNode root)
    {
        var existing = root.DescendantTrivia(descendIntoTrivia: true).FirstOrDefault(t => t.IsKind(SyntaxKind.EndOfLineTrivia));
        return existing.IsKind(SyntaxKind.EndOfLineTrivia) ? existing : SyntaxFactory.LineFeed;
    }
}
