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
using Microsoft.CodeAnalysis.Operations;
using Microsoft.CodeAnalysis.Simplification;
using RaySharp.Analyzers.AntiPatterns;
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace RaySharp.Analyzers.CodeFixes;

/// <summary>
/// RAY114 fix: <c>Ray.Get(r)</c> and <c>r.Get()</c> become <c>await r</c>; <c>Ray.Get(refs)</c> becomes
/// <c>await Ray.GetAsync(refs)</c>; <c>Ray.Wait(...)</c> becomes <c>await Ray.WaitAsync(...)</c>;
/// <c>.Result</c>, <c>.Wait()</c> and <c>.GetAwaiter().GetResult()</c> become <c>await</c>. A timeout is kept:
/// <c>r.Get(t)</c> becomes <c>(await Ray.GetAsync(new[] { r }, t))[0]</c>, which throws the same timeout error.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(AwaitInsteadOfBlockingCodeFixProvider))]
[Shared]
public sealed class AwaitInsteadOfBlockingCodeFixProvider : CodeFixProvider
{
    public const string EquivalenceKey = "RaySharp.AwaitInsteadOfBlocking";

    public override ImmutableArray<string> FixableDiagnosticIds { get; } =
        ImmutableArray.Create(DiagnosticDescriptors.BlockingGetInAsyncCodeId);

    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        var model = await context.Document.GetSemanticModelAsync(context.CancellationToken).ConfigureAwait(false);
        if (root is null || model is null || RayApi.TryCreate(model.Compilation) is not { } api)
        {
            return;
        }

        foreach (var diagnostic in context.Diagnostics)
        {
            if (!diagnostic.Properties.ContainsKey(BlockingGetAnalyzer.CanAwaitProperty))
            {
                continue;
            }

            var node = root.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true);
            if (node is not ExpressionSyntax expression || !CanAwaitAt(expression) ||
                RefGet.TryCreate(model.GetOperation(expression, context.CancellationToken)!, api) is not { } get ||
                Rewrite(get) is not { } replacement)
            {
                continue;
            }

            context.RegisterCodeFix(
                CodeAction.Create(
                    Title(get),
                    ct => ReplaceAsync(context.Document, expression, replacement, ct),
                    EquivalenceKey),
                diagnostic);
        }
    }

    private static string Title(RefGet get) => get.Kind switch
    {
        RefGetKind.RayGetMany => "Use 'await Ray.GetAsync'",
        RefGetKind.RayWait => "Use 'await Ray.WaitAsync'",
        _ => "Use 'await'",
    };

    private static async Task<Document> ReplaceAsync(Document document, ExpressionSyntax expression, ExpressionSyntax replacement, CancellationToken ct)
    {
        var root = await document.GetSyntaxRootAsync(ct).ConfigureAwait(false);
        if (NeedsParentheses(expression))
        {
            replacement = ParenthesizedExpression(replacement);
        }

        replacement = replacement.WithTriviaFrom(expression);
        return document.WithSyntaxRoot(root!.ReplaceNode(expression, replacement));
    }

    private static ExpressionSyntax? Rewrite(RefGet get)
    {
        var syntax = get.Operation.Syntax;
        switch (get.Kind)
        {
            case RefGetKind.RayGetOne or RefGetKind.RefGet when !get.HasTimeout:
                return Await(get.Target.Syntax);

            case RefGetKind.RayGetOne or RefGetKind.RefGet:
                var timeout = ((IInvocationOperation)get.Operation).Arguments.First(a => a.Parameter?.Name == "timeout").Value.Syntax;
                var getAsync = InvocationExpression(
                    RayMember("GetAsync"),
                    ArgumentList(SeparatedList(new[]
                    {
                        Argument(ImplicitArrayCreationExpression(InitializerExpression(
                            SyntaxKind.ArrayInitializerExpression,
                            SingletonSeparatedList(((ExpressionSyntax)get.Target.Syntax).WithoutTrivia())))),
                        Argument((ExpressionSyntax)timeout.WithoutTrivia()),
                    })));
                return ElementAccessExpression(
                    ParenthesizedExpression(AwaitExpression(getAsync)),
                    BracketedArgumentList(SingletonSeparatedList(Argument(LiteralExpression(SyntaxKind.NumericLiteralExpression, Literal(0))))));

            case RefGetKind.RayGetMany or RefGetKind.RayWait when syntax is InvocationExpressionSyntax invocation:
                var asyncName = get.Kind == RefGetKind.RayGetMany ? "GetAsync" : "WaitAsync";
                return RenameCall(invocation, asyncName) is { } renamed ? AwaitExpression(renamed) : null;

            case RefGetKind.TaskResult or RefGetKind.AwaiterGetResult:
            case RefGetKind.TaskWait when !get.HasTimeout:
                return Await(get.Target.Syntax);

            default:
                return null;
        }
    }

    private static ExpressionSyntax Await(SyntaxNode operand)
    {
        var expression = ((ExpressionSyntax)operand).WithoutTrivia();
        if (expression is not (IdentifierNameSyntax or MemberAccessExpressionSyntax or InvocationExpressionSyntax or
            ElementAccessExpressionSyntax or ParenthesizedExpressionSyntax or ThisExpressionSyntax))
        {
            expression = ParenthesizedExpression(expression);
        }

        return AwaitExpression(expression);
    }

    /// <summary><c>Ray.Get&lt;T&gt;(args)</c> → <c>Ray.GetAsync&lt;T&gt;(args)</c>, however <c>Ray</c> was written.</summary>
    private static InvocationExpressionSyntax? RenameCall(InvocationExpressionSyntax invocation, string name)
    {
        SimpleNameSyntax Renamed(SimpleNameSyntax old) => old is GenericNameSyntax generic
            ? generic.WithIdentifier(Identifier(name))
            : IdentifierName(name);

        return invocation.Expression switch
        {
            MemberAccessExpressionSyntax access => invocation.WithExpression(access.WithName(Renamed(access.Name))).WithoutTrivia(),
            SimpleNameSyntax simple => invocation.WithExpression(Renamed(simple).WithTriviaFrom(simple)).WithoutTrivia(),
            _ => null,
        };
    }

    private static ExpressionSyntax RayMember(string name) =>
        MemberAccessExpression(
            SyntaxKind.SimpleMemberAccessExpression,
            ParseExpression("global::RaySharp.Ray").WithAdditionalAnnotations(Simplifier.Annotation),
            IdentifierName(name));

    /// <summary>C# allows no await in a lock or in a query clause.</summary>
    private static bool CanAwaitAt(SyntaxNode node)
    {
        foreach (var ancestor in node.Ancestors())
        {
            switch (ancestor)
            {
                case LockStatementSyntax or QueryExpressionSyntax:
                    return false;
                case AnonymousFunctionExpressionSyntax or LocalFunctionStatementSyntax or MemberDeclarationSyntax or GlobalStatementSyntax:
                    return true;
            }
        }

        return true;
    }

    // "await x" binds looser than member access, indexing and invocation: (await x).Length.
    private static bool NeedsParentheses(ExpressionSyntax expression) => expression.Parent switch
    {
        MemberAccessExpressionSyntax access => access.Expression == expression,
        ElementAccessExpressionSyntax element => element.Expression == expression,
        ConditionalAccessExpressionSyntax conditional => conditional.Expression == expression,
        InvocationExpressionSyntax invocation => invocation.Expression == expression,
        PostfixUnaryExpressionSyntax => true,
        _ => false,
    };
}
