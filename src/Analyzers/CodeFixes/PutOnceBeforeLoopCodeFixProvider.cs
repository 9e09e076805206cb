using System.Collections.Generic;
using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Editing;
using Microsoft.CodeAnalysis.Formatting;
using Microsoft.CodeAnalysis.Operations;
using Microsoft.CodeAnalysis.Simplification;
using RaySharp.Analyzers.AntiPatterns;
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace RaySharp.Analyzers.CodeFixes;

/// <summary>
/// RAY109 fix: <c>var dataRef = Ray.Put(data);</c> before the loop, and every by-value pass of <c>data</c> to a
/// remote call in that loop becomes <c>dataRef</c>. The proxies take <c>Arg&lt;T&gt;</c>, which converts from
/// <c>ObjectRef&lt;T&gt;</c>, and the callee still receives the value.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(PutOnceBeforeLoopCodeFixProvider))]
[Shared]
public sealed class PutOnceBeforeLoopCodeFixProvider : CodeFixProvider
{
    public const string EquivalenceKey = "RaySharp.PutOnceBeforeLoop";

    public override ImmutableArray<string> FixableDiagnosticIds { get; } =
        ImmutableArray.Create(DiagnosticDescriptors.RepeatedLargeArgumentId);

    // One Put serves every diagnostic of the same value in the same loop, so Fix-All groups them.
    public override FixAllProvider GetFixAllProvider() =>
        FixAllProvider.Create(async (context, document, diagnostics) =>
            await FixAsync(document, diagnostics, context.CancellationToken).ConfigureAwait(false));

    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        if (root is null)
        {
            return;
        }

        foreach (var diagnostic in context.Diagnostics)
        {
            if (diagnostic.AdditionalLocations.Count == 0 ||
                AnchorStatement(root.FindNode(diagnostic.AdditionalLocations[0].SourceSpan, getInnermostNodeForTie: true)) is null)
            {
                continue;
            }

            context.RegisterCodeFix(
                CodeAction.Create(
                    "Put the value once before the loop",
                    ct => FixAsync(context.Document, ImmutableArray.Create(diagnostic), ct),
                    EquivalenceKey),
                diagnostic);
        }
    }

    private static async Task<Document> FixAsync(Document document, ImmutableArray<Diagnostic> diagnostics, CancellationToken ct)
    {
        var root = await document.GetSyntaxRootAsync(ct).ConfigureAwait(false);
        var model = await document.GetSemanticModelAsync(ct).ConfigureAwait(false);
        if (root is null || model is null || RayApi.TryCreate(model.Compilation) is not { } api)
        {
            return document;
        }

        var editor = await DocumentEditor.CreateAsync(document, ct).ConfigureAwait(false);
        var takenNames = new HashSet<string>();
        var done = new HashSet<string>();

        foreach (var diagnostic in diagnostics.OrderBy(d => d.Location.SourceSpan.Start))
        {
            if (diagnostic.AdditionalLocations.Count == 0 ||
                Find(root, model, api, diagnostic.Location.SourceSpan, ct) is not { } first ||
                root.FindNode(diagnostic.AdditionalLocations[0].SourceSpan, getInnermostNodeForTie: true) is not { } loop ||
                AnchorStatement(loop) is not { } anchor ||
                !done.Add($"{loop.Span}|{first.Symbol.Kind}|{first.Symbol.ToDisplayString()}"))
            {
                continue;
            }

            var name = FreshName(first.SuggestedRefName, anchor, model, takenNames);
            foreach (var argument in loop.DescendantNodes().OfType<ArgumentSyntax>())
            {
                if (model.GetOperation(argument, ct) is IArgumentOperation operation &&
                    RepeatedArgument.TryCreate(operation, api) is { } found &&
                    SymbolEqualityComparer.Default.Equals(found.Symbol, first.Symbol) && found.Loop.Syntax.Span == loop.Span)
                {
                    editor.ReplaceNode(found.Value.Syntax, IdentifierName(name).WithTriviaFrom(found.Value.Syntax));
                }
            }

            editor.InsertBefore(anchor.Parent is GlobalStatementSyntax global ? global : anchor, PutStatement(anchor, name, first, model));
        }

        return document.WithSyntaxRoot(editor.GetChangedRoot());
    }

    private static RepeatedArgument? Find(SyntaxNode root, SemanticModel model, RayApi api, Microsoft.CodeAnalysis.Text.TextSpan span, CancellationToken ct)
    {
        var node = root.FindNode(span, getInnermostNodeForTie: true);
        return node.FirstAncestorOrSelf<ArgumentSyntax>() is { } argument &&
            model.GetOperation(argument, ct) is IArgumentOperation operation
            ? RepeatedArgument.TryCreate(operation, api)
            : null;
    }

    /// <summary><c>var dataRef = Ray.Put(data);</c>, with <c>Put&lt;T&gt;</c> spelled out when the proxy's T differs from the value's type.</summary>
    private static SyntaxNode PutStatement(StatementSyntax anchor, string name, RepeatedArgument found, SemanticModel model)
    {
        SimpleNameSyntax put = SymbolEqualityComparer.Default.Equals(found.Value.Type, found.ArgType)
            ? IdentifierName("Put")
            : GenericName(Identifier("Put"), TypeArgumentList(SingletonSeparatedList(
                ParseTypeName(found.ArgType.ToMinimalDisplayString(model, anchor.SpanStart)))));
        var call = InvocationExpression(
            MemberAccessExpression(
                SyntaxKind.SimpleMemberAccessExpression,
                ParseExpression("global::RaySharp.Ray").WithAdditionalAnnotations(Simplifier.Annotation),
                put),
            ArgumentList(SingletonSeparatedList(Argument(((ExpressionSyntax)found.Value.Syntax).WithoutTrivia()))));

        StatementSyntax statement = LocalDeclarationStatement(
            VariableDeclaration(
                IdentifierName("var"),
                SingletonSeparatedList(VariableDeclarator(Identifier(name)).WithInitializer(EqualsValueClause(call)))));
        if (anchor.Parent is not GlobalStatementSyntax)
        {
            return statement.WithAdditionalAnnotations(Formatter.Annotation);
        }

        // The formatter spaces top-level statements apart like members; write this one out as a plain line.
        var endOfLine = anchor.GetTrailingTrivia().FirstOrDefault(t => t.IsKind(SyntaxKind.EndOfLineTrivia));
        return GlobalStatement(statement.NormalizeWhitespace().WithTrailingTrivia(endOfLine.IsKind(SyntaxKind.EndOfLineTrivia) ? endOfLine : LineFeed));
    }

    /// <summary>The statement the Put goes before: the loop itself, or the statement holding the LINQ call.</summary>
    private static StatementSyntax? AnchorStatement(SyntaxNode loop)
    {
        var statement = loop as StatementSyntax ?? loop.FirstAncestorOrSelf<StatementSyntax>();
        return statement?.Parent switch
        {
            BlockSyntax or SwitchSectionSyntax => statement,
            GlobalStatementSyntax => statement,
            _ => null,
        };
    }

    private static string FreshName(string suggested, SyntaxNode anchor, SemanticModel model, HashSet<string> taken)
    {
        // Names visible here, and names declared anywhere in the same member (a later local of the same name
        // in an enclosing scope would clash too).
        var scope = anchor.FirstAncestorOrSelf<MemberDeclarationSyntax>() ?? (SyntaxNode)anchor.SyntaxTree.GetRoot();
        var used = new HashSet<string>(model.LookupSymbols(anchor.SpanStart).Select(s => s.Name));
        used.UnionWith(scope.DescendantTokens().Where(t => t.IsKind(SyntaxKind.IdentifierToken)).Select(t => t.ValueText));
        used.UnionWith(taken);

        var name = suggested;
        for (var i = 2; used.Contains(name); i++)
        {
            name = suggested + i;
        }

        taken.Add(name);
        return name;
    }
}
