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

/// <summary>
/// RAY002 fix: marks the user class/struct/record that cannot be serialized <c>[MemoryPack.MemoryPackable]</c>
/// and <c>partial</c> (with its containing types), wherever in the solution it is declared.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(MemoryPackableCodeFixProvider))]
[Shared]
public sealed class MemoryPackableCodeFixProvider : CodeFixProvider
{
    public const string EquivalenceKey = "RaySharp.MakeMemoryPackable";

    public override ImmutableArray<string> FixableDiagnosticIds { get; } =
        ImmutableArray.Create(DiagnosticDescriptors.UnserializableTypeId);

    public override FixAllProvider GetFixAllProvider() => MemoryPackableFixAllProvider.Instance;

    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var compilation = await context.Document.Project.GetCompilationAsync(context.CancellationToken).ConfigureAwait(false);
        if (compilation is null)
        {
            return;
        }

        foreach (var diagnostic in context.Diagnostics)
        {
            if (ResolveTarget(diagnostic, compilation) is not { } target)
            {
                continue;
            }

            var targets = ImmutableArray.Create(target);
            context.RegisterCodeFix(
                CodeAction.Create(
                    $"Mark '{target.Name}' [MemoryPackable] and partial",
                    ct => ApplyAsync(context.Document.Project.Solution, targets, ct),
                    EquivalenceKey),
                diagnostic);
        }
    }

    internal static INamedTypeSymbol? ResolveTarget(Diagnostic diagnostic, Compilation compilation)
    {
        if (!diagnostic.Properties.TryGetValue(WireTypeAnalyzer.FixableTypeProperty, out var id) || id is null)
        {
            return null;
        }

        return DocumentationCommentId.GetFirstSymbolForDeclarationId(id, compilation) is INamedTypeSymbol { DeclaringSyntaxReferences.Length: > 0 } type
            ? type
            : null;
    }

    /// <summary>Marks every target: the attribute on its first declaration, partial on it and its containers.</summary>
    internal static async Task<Solution> ApplyAsync(Solution solution, ImmutableArray<INamedTypeSymbol> targets, CancellationToken cancellationToken)
    {
        var edits = new Dictionary<DocumentId, (HashSet<TypeDeclarationSyntax> Attribute, HashSet<TypeDeclarationSyntax> Partial)>();

        foreach (var target in targets.Distinct<INamedTypeSymbol>(SymbolEqualityComparer.Default))
        {
            var declarations = target.DeclaringSyntaxReferences
                .OrderBy(r => r.SyntaxTree.FilePath, System.StringComparer.Ordinal)
                .ThenBy(r => r.Span.Start)
                .ToList();

            for (var i = 0; i < declarations.Count; i++)
            {
                if (declarations[i].GetSyntax(cancellationToken) is not TypeDeclarationSyntax declaration ||
                    solution.GetDocument(declaration.SyntaxTree) is not { } document)
                {
                    continue;
                }

                if (!edits.TryGetValue(document.Id, out var edit))
                {
                    edit = (new HashSet<TypeDeclarationSyntax>(), new HashSet<TypeDeclarationSyntax>());
                    edits[document.Id] = edit;
                }

                if (i == 0)
                {
                    edit.Attribute.Add(declaration);
                }

                edit.Partial.UnionWith(declaration.AncestorsAndSelf().OfType<TypeDeclarationSyntax>().Where(t => !TypeDeclarationEdits.IsPartial(t)));
            }
        }

        foreach (var pair in edits)
        {
            var document = solution.GetDocument(pair.Key)!;
            if (await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false) is not { } root)
            {
                continue;
            }

            var (attribute, partial) = pair.Value;
            var endOfLine = TypeDeclarationEdits.EndOfLine(root);
            var updated = root.ReplaceNodes(
                attribute.Concat(partial).Distinct(),
                (original, rewritten) =>
                {
                    if (partial.Contains(original))
                    {
                        rewritten = TypeDeclarationEdits.AddPartial(rewritten);
                    }

                    return attribute.Contains(original) ? TypeDeclarationEdits.AddMemoryPackable(rewritten, endOfLine) : rewritten;
                });
            solution = solution.WithDocumentSyntaxRoot(pair.Key, updated);
        }

        return solution;
    }

    /// <summary>Collects the fixable types of every RAY002 in scope and marks each once, across documents.</summary>
    private sealed class MemoryPackableFixAllProvider : FixAllProvider
    {
        public static readonly MemoryPackableFixAllProvider Instance = new();

        public override async Task<CodeAction?> GetFixAsync(FixAllContext fixAllContext)
        {
            var projects = fixAllContext.Scope == FixAllScope.Solution
                ? fixAllContext.Solution.Projects.ToList()
                : new List<Project> { fixAllContext.Project };

            var targets = ImmutableArray.CreateBuilder<INamedTypeSymbol>();
            foreach (var project in projects)
            {
                var diagnostics = fixAllContext.Scope is FixAllScope.Project or FixAllScope.Solution
                    ? await fixAllContext.GetAllDiagnosticsAsync(project).ConfigureAwait(false)
                    : fixAllContext.Document is { } document
                        ? await fixAllContext.GetDocumentDiagnosticsAsync(document).ConfigureAwait(false)
                        : ImmutableArray<Diagnostic>.Empty;

                if (diagnostics.IsEmpty ||
                    await project.GetCompilationAsync(fixAllContext.CancellationToken).ConfigureAwait(false) is not { } compilation)
                {
                    continue;
                }

                foreach (var diagnostic in diagnostics)
                {
                    if (ResolveTarget(diagnostic, compilation) is { } target)
                    {
                        targets.Add(target);
                    }
                }
            }

            if (targets.Count == 0)
            {
                return null;
            }

            var all = targets.ToImmutable();
            return CodeAction.Create(
                "Mark all unserializable types [MemoryPackable] and partial",
                ct => ApplyAsync(fixAllContext.Solution, all, ct),
                fixAllContext.CodeActionEquivalenceKey);
        }
    }
}
