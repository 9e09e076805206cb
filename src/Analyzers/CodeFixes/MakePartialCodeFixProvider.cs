using System.Collections.Generic;
using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace RaySharp.Analyzers.CodeFixes;

/// <summary>RAY001 fix: adds <c>partial</c> to the type and to every containing type that lacks it.</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(MakePartialCodeFixProvider))]
[Shared]
public sealed class MakePartialCodeFixProvider : CodeFixProvider
{
    public const string EquivalenceKey = "RaySharp.MakePartial";

    public override ImmutableArray<string> FixableDiagnosticIds { get; } =
        ImmutableArray.Create(DiagnosticDescriptors.TypeMustBePartialId);

    // A non-partial type has exactly one declaration, and it is nested in the declarations of its
    // (non-partial) containers, so every edit a diagnostic needs lies in that diagnostic's document.
    public override FixAllProvider GetFixAllProvider() =>
        FixAllProvider.Create(async (context, document, diagnostics) =>
            await FixAsync(document, diagnostics, context.CancellationToken).ConfigureAwait(false));

    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        foreach (var diagnostic in context.Diagnostics)
        {
            if (FindDeclaration(root, diagnostic) is not { } declaration)
            {
                continue;
            }

            context.RegisterCodeFix(
                CodeAction.Create(
                    $"Make '{declaration.Identifier.ValueText}' partial",
                    ct => FixAsync(context.Document, ImmutableArray.Create(diagnostic), ct),
                    EquivalenceKey),
                diagnostic);
        }
    }

    private static async Task<Document> FixAsync(Document document, ImmutableArray<Diagnostic> diagnostics, CancellationToken cancellationToken)
    {
        var root = await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false);
        if (root is null)
        {
            return document;
        }

        var targets = new HashSet<TypeDeclarationSyntax>();
        foreach (var diagnostic in diagnostics)
        {
            if (FindDeclaration(root, diagnostic) is { } declaration)
            {
                targets.UnionWith(declaration.AncestorsAndSelf().OfType<TypeDeclarationSyntax>().Where(t => !TypeDeclarationEdits.IsPartial(t)));
            }
        }

        if (targets.Count == 0)
        {
            return document;
        }

        var updated = root.ReplaceNodes(targets, (_, rewritten) => TypeDeclarationEdits.AddPartial(rewritten));
        return document.WithSyntaxRoot(updated);
    }

    private static TypeDeclarationSyntax? FindDeclaration(SyntaxNode? root, Diagnostic diagnostic) =>
        root?.FindToken(diagnostic.Location.SourceSpan.Start).Parent?.AncestorsAndSelf().OfType<TypeDeclarationSyntax>().FirstOrDefault();
}
