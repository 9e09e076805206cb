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
using Microsoft.CodeAnalysis.Formatting;
using Microsoft.CodeAnalysis.Simplification;

namespace RaySharp.Analyzers.CodeFixes;

/// <summary>
/// RAY103 fix: splits a loop that submits and then gets in each iteration into a loop that submits
/// everything into a list and one <c>Ray.Get(list)</c> whose values are consumed in order:
/// <code>
/// foreach (var x in xs) total += Tasks.Remote.F(x).Get();
/// // becomes
/// var refs = new List&lt;ObjectRef&lt;int&gt;&gt;();
/// foreach (var x in xs) refs.Add(Tasks.Remote.F(x));
/// foreach (var value in Ray.Get(refs)) total += value;
/// </code>
/// Offered only where that keeps behaviour: a for or foreach loop whose body is the consuming statement
/// (optionally preceded by <c>var r = call;</c>), and that statement uses nothing of the iteration
/// besides the fetched value and does not jump out of the loop.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(SubmitAllThenGetCodeFixProvider))]
[Shared]
public sealed class SubmitAllThenGetCodeFixProvider : CodeFixProvider
{
    public const string EquivalenceKey = "RaySharp.SubmitAllThenGet";

    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create(DiagnosticDescriptors.GetInLoopId);

    // Each fix introduces names into the enclosing block, so the fixes of one document are applied one
    // after the other against the updated document, each choosing names that are still free.
    public override FixAllProvider GetFixAllProvider() =>
        FixAllProvider.Create(async (context, document, diagnostics) =>
            await FixAllAsync(document, diagnostics, context.CancellationToken).ConfigureAwait(false));

    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        var model = await context.Document.GetSemanticModelAsync(context.CancellationToken).ConfigureAwait(false);
        if (root is null || model is null)
        {
            return;
        }

        foreach (var diagnostic in context.Diagnostics)
        {
            if (FindGet(root, diagnostic) is { } get && Plan.TryCreate(model, get, context.CancellationToken) is not null)
            {
                context.RegisterCodeFix(
                    CodeAction.Create(
                        "Submit all tasks, then get the results with Ray.Get(list)",
                        ct => FixOneAsync(context.Document, get, ct),
                        EquivalenceKey),
                    diagnostic);
            }
        }
    }

    private static async Task<Document> FixAllAsync(Document document, ImmutableArray<Diagnostic> diagnostics, CancellationToken cancellationToken)
    {
        var root = await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false);
        if (root is null)
        {
            return document;
        }

        var annotations = new List<SyntaxAnnotation>();
        var gets = new Dictionary<SyntaxNode, SyntaxAnnotation>();
        foreach (var diagnostic in diagnostics)
        {
            if (FindGet(root, diagnostic) is { } get && !gets.ContainsKey(get))
            {
                gets[get] = new SyntaxAnnotation();
                annotations.Add(gets[get]);
            }
        }

        document = document.WithSyntaxRoot(root.ReplaceNodes(gets.Keys, (original, _) => original.WithAdditionalAnnotations(gets[original])));
        foreach (var annotation in annotations)
        {
            var current = await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false);
            if (current?.GetAnnotatedNodes(annotation).OfType<InvocationExpressionSyntax>().FirstOrDefault() is { } get)
            {
                document = await FixOneAsync(document, get, cancellationToken).ConfigureAwait(false);
            }
        }

        return document;
    }

    private static async Task<Document> FixOneAsync(Document document, InvocationExpressionSyntax get, CancellationToken cancellationToken)
    {
        var model = await document.GetSemanticModelAsync(cancellationToken).ConfigureAwait(false);
        if (model is null || Plan.TryCreate(model, get, cancellationToken) is not { } plan)
        {
            return document;
        }

        var refs = FreeName(model, plan.Loop.SpanStart, "refs");
        var value = FreeName(model, plan.Consumer.SpanStart, "value");

        var listType = $"global::System.Collections.Generic.List<{plan.RefType}>";
        var declaration = SyntaxFactory.ParseStatement($"var {refs} = new {listType}();")
            .WithLeadingTrivia(plan.Loop.GetLeadingTrivia())
            .WithAdditionalAnnotations(Simplifier.Annotation, Formatter.Annotation);

        StatementSyntax add = SyntaxFactory.ParseStatement($"{refs}.Add({plan.Submission.WithoutTrivia()});");
        var submitLoop = plan.Loop.ReplaceNode(plan.Body, plan.Body is BlockSyntax ? SyntaxFactory.Block(add) : add)
            .WithLeadingTrivia(SyntaxFactory.ElasticMarker)
            .WithTrailingTrivia(SyntaxFactory.ElasticCarriageReturnLineFeed)
            .WithAdditionalAnnotations(Formatter.Annotation);

        // A block body gets a new block; an embedded statement keeps its line break and indentation.
        var consumer = plan.Consumer.ReplaceNode(plan.Get, SyntaxFactory.IdentifierName(value).WithTriviaFrom(plan.Get));
        var getLoop = (ForEachStatementSyntax)SyntaxFactory.ParseStatement($"foreach (var {value} in global::RaySharp.Ray.Get({refs})) {{ }}");
        getLoop = getLoop
            .WithCloseParenToken(getLoop.CloseParenToken.WithTrailingTrivia(plan.Body.GetFirstToken().GetPreviousToken().TrailingTrivia))
            .WithStatement(plan.Body is BlockSyntax ? SyntaxFactory.Block(consumer.WithoutLeadingTrivia()) : consumer)
            .WithTrailingTrivia(plan.Loop.GetTrailingTrivia())
            .WithAdditionalAnnotations(Simplifier.Annotation, Formatter.Annotation);

        var root = await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false);
        var updated = root!.ReplaceNode(plan.Loop, new SyntaxNode[] { declaration, submitLoop, getLoop });
        return document.WithSyntaxRoot(updated);
    }

    private static InvocationExpressionSyntax? FindGet(SyntaxNode root, Diagnostic diagnostic) =>
        root.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true)
            .AncestorsAndSelf().OfType<InvocationExpressionSyntax>().FirstOrDefault();

    private static string FreeName(SemanticModel model, int position, string name)
    {
        var candidate = name;
        for (var i = 2; model.LookupSymbols(position, name: candidate).Any(); i++)
        {
            candidate = name + i;
        }

        return candidate;
    }

    /// <summary>The pieces of a loop the fix can rewrite, or null when rewriting it could change behaviour.</summary>
    private sealed class Plan
    {
        private Plan(StatementSyntax loop, StatementSyntax body, StatementSyntax consumer, InvocationExpressionSyntax get, ExpressionSyntax submission, string refType)
        {
            Loop = loop;
            Body = body;
            Consumer = consumer;
            Get = get;
            Submission = submission;
            RefType = refType;
        }

        public StatementSyntax Loop { get; }
        public StatementSyntax Body { get; }
        public StatementSyntax Consumer { get; }
        public InvocationExpressionSyntax Get { get; }
        public ExpressionSyntax Submission { get; }
        public string RefType { get; }

        public static Plan? TryCreate(SemanticModel model, InvocationExpressionSyntax get, CancellationToken cancellationToken)
        {
            var loop = get.Ancestors().TakeWhile(n => n is not (LambdaExpressionSyntax or AnonymousMethodExpressionSyntax or LocalFunctionStatementSyntax))
                .OfType<StatementSyntax>().FirstOrDefault(s => s is ForStatementSyntax or ForEachStatementSyntax or WhileStatementSyntax or DoStatementSyntax);
            if (loop is not (ForStatementSyntax or ForEachStatementSyntax) || loop.Parent is not BlockSyntax)
            {
                return null;
            }

            var body = loop is ForStatementSyntax f ? f.Statement : ((ForEachStatementSyntax)loop).Statement;
            var statements = body is BlockSyntax block ? block.Statements.ToList() : new List<StatementSyntax> { body };
            var reference = RefOperand(model, get, cancellationToken);
            if (reference is null || statements.Count is 0 or > 2)
            {
                return null;
            }

            ExpressionSyntax submission;
            ISymbol? refLocal = null;
            if (statements.Count == 2)
            {
                // var r = Tasks.Remote.F(x);  ...  r.Get() ...
                if (statements[0] is not LocalDeclarationStatementSyntax { Declaration.Variables: { Count: 1 } variables } ||
                    variables[0] is not { Initializer: { } initializer } variable ||
                    reference is not IdentifierNameSyntax { Identifier.ValueText: var name } || name != variable.Identifier.ValueText)
                {
                    return null;
                }

                submission = initializer.Value;
                refLocal = model.GetDeclaredSymbol(variable, cancellationToken);
            }
            else
            {
                submission = reference;
            }

            var consumer = statements[statements.Count - 1];
            if (!consumer.Span.Contains(get.Span) || Jumps(consumer) || UsesIterationState(model, loop, consumer, get, refLocal, cancellationToken) ||
                model.GetTypeInfo(submission, cancellationToken).Type is not { } refType)
            {
                return null;
            }

            return new Plan(loop, body, consumer, get, submission, refType.ToMinimalDisplayString(model, loop.SpanStart));
        }

        /// <summary>
        /// The ref a get waits for: the receiver of <c>r.Get()</c> or the argument of <c>Ray.Get(r)</c>. Null
        /// when the get passes a timeout: one timeout per value does not mean the same as one for the list.
        /// </summary>
        private static ExpressionSyntax? RefOperand(SemanticModel model, InvocationExpressionSyntax get, CancellationToken cancellationToken)
        {
            if (model.GetSymbolInfo(get, cancellationToken).Symbol is not IMethodSymbol method || get.Expression is not MemberAccessExpressionSyntax access)
            {
                return null;
            }

            var arguments = get.ArgumentList.Arguments;
            return method.IsStatic
                ? arguments.Count == 1 ? arguments[0].Expression : null
                : arguments.Count == 0 ? access.Expression : null;
        }

        private static bool Jumps(StatementSyntax consumer) =>
            consumer.DescendantNodesAndSelf(n => n is not (LambdaExpressionSyntax or AnonymousMethodExpressionSyntax or LocalFunctionStatementSyntax))
                .Any(n => n is BreakStatementSyntax or ContinueStatementSyntax or ReturnStatementSyntax or YieldStatementSyntax or GotoStatementSyntax or
                    AwaitExpressionSyntax);

        /// <summary>
        /// True when the consumer, outside the get, reads something that changes per iteration: the loop's
        /// own variables, a local declared in the loop, or the ref local. Those would be gone in the second loop.
        /// </summary>
        private static bool UsesIterationState(SemanticModel model, StatementSyntax loop, StatementSyntax consumer, InvocationExpressionSyntax get,
            ISymbol? refLocal, CancellationToken cancellationToken)
        {
            foreach (var identifier in consumer.DescendantNodes().OfType<IdentifierNameSyntax>())
            {
                if (get.Span.Contains(identifier.Span) && refLocal is null)
                {
                    continue;
                }

                var symbol = model.GetSymbolInfo(identifier, cancellationToken).Symbol;
                if (symbol is not (ILocalSymbol or IParameterSymbol))
                {
                    continue;
                }

                if (SymbolEqualityComparer.Default.Equals(symbol, refLocal))
                {
                    // The ref local may appear only as the get's operand.
                    if (!get.Span.Contains(identifier.Span))
                    {
                        return true;
                    }

                    continue;
                }

                if (symbol.DeclaringSyntaxReferences.Any(r => loop.Span.Contains(r.Span) && !consumer.Span.Contains(r.Span)))
                {
                    return true;
                }
            }

            return false;
        }
    }
}
