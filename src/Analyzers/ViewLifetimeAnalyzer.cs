using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using RaySharp.Analyzers.Flow;

namespace RaySharp.Analyzers;

/// <summary>
/// RAY013: an <c>ObjectView&lt;T&gt;</c>, or memory read from it, that outlives the view's pin. Only views whose end the
/// code shows are followed: a view parameter of a remote method or actor constructor (the runtime disposes it when the
/// call returns) and a view declared by <c>using</c>. The view, its <c>Span</c>/<c>Memory</c>, slices of those and locals
/// holding them must not be stored in a field, captured by a callback that outlives the call, returned past the
/// <c>using</c>, or read after the <c>using</c> ends. Copies (<c>ToArray()</c>, elements, <c>Length</c>) are values of
/// their own and are never reported.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ViewLifetimeAnalyzer : RayFlowAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
        ImmutableArray.Create(DiagnosticDescriptors.ViewOutlivesPin);

    private protected override void Register(CompilationStartAnalysisContext context, RayApi api) =>
        context.RegisterOperationBlockAction(c => new BodyAnalysis(c, api).Run());

    /// <summary>A view whose disposal the code shows, and the locals that hold memory read from it.</summary>
    private sealed class ScopedView
    {
        public ScopedView(ISymbol symbol, string disposal, int? scopeEnd, IOperation? function)
        {
            Symbol = symbol;
            Disposal = disposal;
            ScopeEnd = scopeEnd;
            Function = function;
        }

        public ISymbol Symbol { get; }

        /// <summary>"when remote method 'X.M' returns", "at the end of its using scope".</summary>
        public string Disposal { get; }

        /// <summary>For a <c>using</c>: where the view has been disposed (text position); null for a parameter.</summary>
        public int? ScopeEnd { get; }

        /// <summary>For a <c>using</c>: the lambda or local function declaring it, null for the member's own body.</summary>
        public IOperation? Function { get; }

        public HashSet<ILocalSymbol> Aliases { get; } = new(SymbolEqualityComparer.Default);

        public bool IsOrAliases(ISymbol? symbol) =>
            SymbolEqualityComparer.Default.Equals(symbol, Symbol) || (symbol is ILocalSymbol local && Aliases.Contains(local));
    }

    private sealed class BodyAnalysis
    {
        private const int MaxDepth = 8;
        private readonly OperationBlockAnalysisContext _context;
        private readonly RayApi _api;
        private readonly List<IOperation> _operations;
        private readonly HashSet<Location> _reported = new();

        public BodyAnalysis(OperationBlockAnalysisContext context, RayApi api)
        {
            _context = context;
            _api = api;
            _operations = context.OperationBlocks.SelectMany(Operations.DescendantsAndSelf).ToList();
        }

        public void Run()
        {
            foreach (var view in ScopedViews())
            {
                FindAliases(view);
                ReportStores(view);
                ReportCaptures(view);
                if (view.ScopeEnd is { } end)
                {
                    ReportReturns(view);
                    ReportUsesAfter(view, end);
                }
            }
        }

        // ---- which views have a known end ----

        private IEnumerable<ScopedView> ScopedViews()
        {
            if (_context.OwningSymbol is IMethodSymbol method && _api.IsRemoteEntry(method))
            {
                string type = method.ContainingType.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat);
                string disposal = method.MethodKind == MethodKind.Constructor
                    ? $"when the constructor of actor '{type}' returns"
                    : $"when remote method '{type}.{method.Name}' returns";
                foreach (var parameter in method.Parameters.Where(p => _api.IsObjectView(p.Type)))
                {
                    yield return new ScopedView(parameter, disposal, null, null);
                }
            }

            foreach (var operation in _operations)
            {
                var (locals, scope) = operation switch
                {
                    // using (var view = ...) { } and using (view) { }: disposed where the statement ends.
                    IUsingOperation { Resources: IVariableDeclarationGroupOperation group } u => (group.GetDeclaredVariables(), u.Syntax),
                    IUsingOperation { Resources: ILocalReferenceOperation local } u => (ImmutableArray.Create(local.Local), u.Syntax),
                    // using var view = ...;: disposed where the enclosing block ends.
                    IUsingDeclarationOperation declaration => (declaration.DeclarationGroup.GetDeclaredVariables(), declaration.Parent?.Syntax),
                    _ => (ImmutableArray<ILocalSymbol>.Empty, null),
                };
                if (scope is null)
                {
                    continue;
                }

                foreach (var local in locals.Where(l => _api.IsObjectView(l.Type)))
                {
                    yield return new ScopedView(local, "at the end of its using scope", scope.Span.End, Operations.EnclosingFunction(operation));
                }
            }
        }

        // ---- what aliases the view ----

        /// <summary>Locals assigned the view or memory read from it, directly or through other such locals.</summary>
        private void FindAliases(ScopedView view)
        {
            for (int round = 0; round < 4; round++)
            {
                int before = view.Aliases.Count;
                foreach (var operation in _operations)
                {
                    var (local, value) = operation switch
                    {
                        IVariableDeclaratorOperation declarator => (declarator.Symbol, declarator.GetVariableInitializer()?.Value),
                        ISimpleAssignmentOperation { Target: ILocalReferenceOperation target } assignment => (target.Local, assignment.Value),
                        _ => (null, null),
                    };
                    if (local is not null && !view.IsOrAliases(local) && Aliases(value, view))
                    {
                        view.Aliases.Add(local);
                    }
                }

                if (view.Aliases.Count == before)
                {
                    return;
                }
            }
        }

        /// <summary>True when the value of <paramref name="operation"/> is the view or points into its memory.</summary>
        private bool Aliases(IOperation? operation, ScopedView view, int depth = 0)
        {
            operation = Operations.Unwrap(operation);
            if (operation is null || depth > MaxDepth || !IsViewOrMemory(operation.Type))
            {
                return false;
            }

            return operation switch
            {
                IParameterReferenceOperation parameter => view.IsOrAliases(parameter.Parameter),
                ILocalReferenceOperation local => view.IsOrAliases(local.Local),
                // view.Span, view.Memory, memory.Span
                IPropertyReferenceOperation property => Aliases(property.Instance, view, depth + 1),
                // memory.Slice(..), MemoryMarshal.Cast<float, byte>(span)
                IInvocationOperation invocation => Aliases(invocation.Instance, view, depth + 1) ||
                    invocation.Arguments.Any(a => Aliases(a.Value, view, depth + 1)),
                // span[1..]
                IImplicitIndexerReferenceOperation indexer => Aliases(indexer.Instance, view, depth + 1),
                IConditionalOperation conditional => Aliases(conditional.WhenTrue, view, depth + 1) || Aliases(conditional.WhenFalse, view, depth + 1),
                ICoalesceOperation coalesce => Aliases(coalesce.Value, view, depth + 1) || Aliases(coalesce.WhenNull, view, depth + 1),
                _ => false,
            };
        }

        /// <summary>The types through which a view's memory can be reached: the view, spans and memories.</summary>
        private bool IsViewOrMemory(ITypeSymbol? type) =>
            _api.IsObjectView(type) ||
            (type is INamedTypeSymbol { IsGenericType: true } named &&
             named.OriginalDefinition.ToDisplayString() is "System.ReadOnlySpan<T>" or "System.Span<T>" or "System.ReadOnlyMemory<T>" or "System.Memory<T>");

        // ---- how it escapes ----

        private void ReportStores(ScopedView view)
        {
            foreach (var operation in _operations)
            {
                switch (operation)
                {
                    case ISimpleAssignmentOperation assignment when StoredIn(assignment.Target) is { } member && Aliases(assignment.Value, view):
                        Report(view, assignment.Value, "is stored in " + Operations.DescribeMember(member));
                        break;
                    case IInvocationOperation invocation when Operations.StoringMethods.Contains(invocation.TargetMethod.Name) &&
                        StoredIn(invocation.Instance) is { } collection:
                        foreach (var argument in invocation.Arguments.Where(a => Aliases(a.Value, view)))
                        {
                            Report(view, argument.Value, "is added to " + Operations.DescribeMember(collection));
                        }

                        break;
                }
            }
        }

        /// <summary>The field or property a store through <paramref name="target"/> keeps its value in: any field, a static
        /// property or a property of <c>this</c>, or an indexer over one of those; null for locals and other objects' properties.</summary>
        private static ISymbol? StoredIn(IOperation? target) => Operations.Unwrap(target) switch
        {
            IFieldReferenceOperation field => field.Field,
            IPropertyReferenceOperation { Property.IsIndexer: true } indexer => StoredIn(indexer.Instance),
            IPropertyReferenceOperation { Property.IsStatic: true } property => property.Property,
            IPropertyReferenceOperation { Instance: IInstanceReferenceOperation } property => property.Property,
            _ => null,
        };

        private void ReportCaptures(ScopedView view)
        {
            foreach (var sink in _operations.Where(o => Callbacks.SinkKinds.Contains(o.Kind)))
            {
                foreach (var (value, escape) in Callbacks.Escaping(sink))
                {
                    if (Callbacks.Body(value) is not ({ } function, { } body))
                    {
                        continue;
                    }

                    var captured = new HashSet<ISymbol>(SymbolEqualityComparer.Default);
                    foreach (var reference in body.Descendants())
                    {
                        var symbol = reference switch
                        {
                            ILocalReferenceOperation local => (ISymbol)local.Local,
                            IParameterReferenceOperation parameter => parameter.Parameter,
                            _ => null,
                        };
                        if (symbol is not null && view.IsOrAliases(symbol) && Operations.IsDeclaredOutside(symbol, function) && captured.Add(symbol))
                        {
                            Report(view, reference, "is captured by a callback that " + escape);
                        }
                    }
                }
            }
        }

        /// <summary>A <c>return</c> from the function that declares the <c>using</c>: the caller reads it after the dispose.</summary>
        private void ReportReturns(ScopedView view)
        {
            foreach (var operation in _operations)
            {
                if (operation is IReturnOperation { Kind: OperationKind.Return, ReturnedValue: { } value } returned &&
                    Operations.EnclosingFunction(returned) == view.Function && Aliases(value, view))
                {
                    Report(view, value, $"is returned from '{FunctionName(view.Function)}'");
                }
            }
        }

        private string FunctionName(IOperation? function) => function switch
        {
            ILocalFunctionOperation local => local.Symbol.Name,
            IAnonymousFunctionOperation => "a lambda",
            _ => _context.OwningSymbol.Name,
        };

        /// <summary>Reads, after the <c>using</c> ended, of the view or of a local still holding its memory.</summary>
        private void ReportUsesAfter(ScopedView view, int end)
        {
            var seen = new HashSet<ISymbol>(SymbolEqualityComparer.Default);
            foreach (var reference in _operations.OfType<ILocalReferenceOperation>().OrderBy(r => r.Syntax.SpanStart))
            {
                int at = reference.Syntax.SpanStart;
                if (at < end || !view.IsOrAliases(reference.Local) || Operations.IsWrite(reference) ||
                    ReassignedBetween(reference.Local, end, at) || !seen.Add(reference.Local))
                {
                    continue;
                }

                Report(view, reference, "is used after that scope ends");
            }
        }

        /// <summary>True when <paramref name="local"/> is given a new value between the two text positions.</summary>
        private bool ReassignedBetween(ILocalSymbol local, int from, int to) =>
            _operations.OfType<ILocalReferenceOperation>().Any(r =>
                SymbolEqualityComparer.Default.Equals(r.Local, local) && Operations.IsWrite(r) &&
                r.Syntax.SpanStart >= from && r.Syntax.SpanStart < to);

        private void Report(ScopedView view, IOperation escaping, string how)
        {
            var shown = Operations.Unwrap(escaping) ?? escaping;
            var location = shown.Syntax.GetLocation();
            if (!_reported.Add(location))
            {
                return;
            }

            string name = shown switch
            {
                ILocalReferenceOperation or IParameterReferenceOperation => Operations.NameOf(shown),
                _ => shown.Syntax.ToString(),
            };
            _context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.ViewOutlivesPin, location, view.Symbol.Name, view.Disposal, name, how));
        }
    }
}
