using System.Collections.Immutable;
using System.Globalization;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using RaySharp.Analyzers.Flow;
using RaySharp.Analyzers.Model;

namespace RaySharp.Analyzers;

/// <summary>
/// RAY007: a constant bundle index of a <c>PlacementGroupSchedulingStrategy</c> that names no bundle. An index below -1
/// is wrong for every group. An index at or above the bundle count is reported only when the count is certain: the
/// group is a local assigned once, from <c>Ray.CreatePlacementGroup</c> in the same body, over a bundle list whose
/// length the code shows (a collection expression without spreads, an array or <c>List</c> initializer, or a local
/// assigned once from one of those and never changed).
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class BundleIndexAnalyzer : RayFlowAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
        ImmutableArray.Create(DiagnosticDescriptors.BundleIndexOutOfRange);

    private protected override void Register(CompilationStartAnalysisContext context, RayApi api)
    {
        var strategy = context.Compilation.GetTypeByMetadataName("RaySharp.PlacementGroupSchedulingStrategy");
        var placementGroup = context.Compilation.GetTypeByMetadataName("RaySharp.PlacementGroup");
        if (strategy is null || placementGroup is null)
        {
            return;
        }

        var symbols = new Symbols(api.Ray, strategy, placementGroup, context.Compilation.GetTypeByMetadataName("System.Collections.Generic.List`1"));
        context.RegisterOperationAction(c => Analyze(c, symbols), OperationKind.ObjectCreation);
    }

    private sealed class Symbols
    {
        public Symbols(INamedTypeSymbol ray, INamedTypeSymbol strategy, INamedTypeSymbol placementGroup, INamedTypeSymbol? list)
        {
            Ray = ray;
            Strategy = strategy;
            PlacementGroup = placementGroup;
            List = list;
        }

        public INamedTypeSymbol Ray { get; }
        public INamedTypeSymbol Strategy { get; }
        public INamedTypeSymbol PlacementGroup { get; }
        public INamedTypeSymbol? List { get; }
    }

    private static void Analyze(OperationAnalysisContext context, Symbols symbols)
    {
        var creation = (IObjectCreationOperation)context.Operation;
        if (!RaySymbols.Is(creation.Type, symbols.Strategy))
        {
            return;
        }

        IOperation? group = null;
        IOperation? index = null;
        foreach (var argument in creation.Arguments)
        {
            // An omitted bundleIndex is the default, -1.
            if (argument.ArgumentKind == ArgumentKind.DefaultValue || argument.Parameter is not { } parameter)
            {
                continue;
            }

            if (RaySymbols.Is(parameter.Type, symbols.PlacementGroup))
            {
                group = argument.Value;
            }
            else if (parameter.Name == "bundleIndex")
            {
                index = argument.Value;
            }
        }

        // The properties are init-only: an object initializer runs after the constructor and has the last word.
        IOperation? initializedIndex = null;
        var initializers = creation.Initializer is { } initializer ? initializer.Initializers : ImmutableArray<IOperation>.Empty;
        foreach (var member in initializers)
        {
            if (member is ISimpleAssignmentOperation { Target: IPropertyReferenceOperation property } assignment &&
                RaySymbols.Is(property.Property.ContainingType, symbols.Strategy))
            {
                switch (property.Property.Name)
                {
                    case "BundleIndex":
                        initializedIndex = assignment.Value;
                        break;
                    case "PlacementGroup":
                        group = assignment.Value;
                        break;
                }
            }
        }

        var root = Operations.Root(creation);
        Check(context, symbols, root, index, initializedIndex is null ? group : null);
        Check(context, symbols, root, initializedIndex, group);
    }

    /// <summary>Reports <paramref name="index"/> when it is a constant below -1, or one that <paramref name="group"/>
    /// (null: the index does not take effect) certainly has no bundle for.</summary>
    private static void Check(OperationAnalysisContext context, Symbols symbols, IOperation root, IOperation? index, IOperation? group)
    {
        if (index?.ConstantValue is not { HasValue: true, Value: int value })
        {
            return;
        }

        string problem;
        if (value < -1)
        {
            problem = "invalid: use -1 for any bundle or an index of a bundle";
        }
        else if (value >= 0 && group is not null && KnownGroup(symbols, root, group) is var (name, count) && value >= count)
        {
            var bundles = count == 1 ? "1 bundle" : Format(count) + " bundles";
            var fix = count == 1 ? "use index 0" : "use an index below " + Format(count);
            problem = $"out of range: placement group '{name}' has {bundles}; {fix}, or -1 for any bundle";
        }
        else
        {
            return;
        }

        context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.BundleIndexOutOfRange, index.Syntax.GetLocation(), Format(value), problem));
    }

    /// <summary>The local holding the group and its bundle count, when both are certain.</summary>
    private static (string Name, int Count)? KnownGroup(Symbols symbols, IOperation root, IOperation group)
    {
        if (Operations.Unwrap(group) is not ILocalReferenceOperation { Local: { IsRef: false } local } ||
            SingleValue(root, local) is not { } value ||
            Operations.Unwrap(value) is not IInvocationOperation call ||
            !IsCreatePlacementGroup(symbols, call) ||
            call.Arguments.FirstOrDefault(a => a.Parameter?.Name == "bundles") is not { } bundles)
        {
            return null;
        }

        return BundleCount(symbols, root, bundles.Value, followLocal: true) is { } count ? (local.Name, count) : null;
    }

    private static bool IsCreatePlacementGroup(Symbols symbols, IInvocationOperation call) =>
        call.TargetMethod.Name == "CreatePlacementGroup" && RaySymbols.Is(call.TargetMethod.ContainingType, symbols.Ray);

    /// <summary>
    /// The length of a bundle list the code spells out, or null. An empty list is not counted: the runtime refuses a
    /// group without bundles, which is a different mistake from the index.
    /// </summary>
    private static int? BundleCount(Symbols symbols, IOperation root, IOperation bundles, bool followLocal)
    {
        int? count = Operations.Unwrap(bundles) switch
        {
            ICollectionExpressionOperation collection when !collection.Elements.Any(e => e is ISpreadOperation) =>
                collection.Elements.Length,
            IArrayCreationOperation { DimensionSizes.Length: 1, Initializer: { } initializer } =>
                initializer.ElementValues.Length,
            IObjectCreationOperation { Initializer: { } initializer } list when IsListWithoutSource(symbols, list) &&
                initializer.Initializers.All(i => i is IInvocationOperation) =>
                initializer.Initializers.Length,
            ILocalReferenceOperation { Local: { IsRef: false } local } when followLocal =>
                SingleValue(root, local) is { } value && KeepsItsLength(symbols, root, local)
                    ? BundleCount(symbols, root, value, followLocal: false)
                    : null,
            _ => null,
        };

        return count > 0 ? count : null;
    }

    /// <summary><c>new List&lt;T&gt;()</c> or <c>new List&lt;T&gt;(capacity)</c>: a list whose elements are all in its
    /// collection initializer.</summary>
    private static bool IsListWithoutSource(Symbols symbols, IObjectCreationOperation creation) =>
        creation.Type is INamedTypeSymbol type && RaySymbols.Is(type.OriginalDefinition, symbols.List) &&
        creation.Constructor is { } constructor &&
        constructor.Parameters.All(p => p.Type.SpecialType == SpecialType.System_Int32);

    /// <summary>
    /// The one value ever stored in <paramref name="local"/> (its initializer or a single plain assignment), or null
    /// when it is written more than once, in another way (compound, <c>ref</c>/<c>out</c>, deconstruction, a
    /// pattern) or aliased by a <c>ref</c> local.
    /// </summary>
    private static IOperation? SingleValue(IOperation root, ILocalSymbol local)
    {
        IOperation? value = null;
        var writes = 0;
        foreach (var operation in root.Descendants())
        {
            switch (operation)
            {
                case IVariableDeclaratorOperation declarator when SymbolEqualityComparer.Default.Equals(declarator.Symbol, local):
                    if (declarator.GetVariableInitializer() is { } initializer)
                    {
                        value = initializer.Value;
                        writes++;
                    }

                    break;
                case ILocalReferenceOperation reference when SymbolEqualityComparer.Default.Equals(reference.Local, local):
                    if (reference.Parent is ISimpleAssignmentOperation { IsRef: false } assignment && assignment.Target == reference)
                    {
                        value = assignment.Value;
                        writes++;
                    }
                    else if (reference.IsDeclaration || Operations.IsWrite(reference) || IsRefAlias(reference))
                    {
                        return null;
                    }

                    break;
            }
        }

        return writes == 1 ? value : null;
    }

    private static bool IsRefAlias(ILocalReferenceOperation reference) => reference.Parent switch
    {
        IVariableInitializerOperation { Parent: IVariableDeclaratorOperation { Symbol.IsRef: true } } => true,
        ISimpleAssignmentOperation { IsRef: true } => true,
        IAddressOfOperation => true,
        _ => false,
    };

    /// <summary>
    /// True when nothing can change the length of the list in <paramref name="local"/>: an array's length is fixed;
    /// any other list may only be read (<c>Count</c>, the indexer, <c>foreach</c>) or handed to
    /// <c>Ray.CreatePlacementGroup</c>. A call on it or any other use where it could be changed makes the length unknown.
    /// </summary>
    private static bool KeepsItsLength(Symbols symbols, IOperation root, ILocalSymbol local)
    {
        if (local.Type is IArrayTypeSymbol)
        {
            return true;
        }

        foreach (var reference in Operations.References(root, local))
        {
            if (reference.Parent is ISimpleAssignmentOperation assignment && assignment.Target == reference)
            {
                continue;
            }

            var consumer = Operations.ConsumerOf(reference);
            var reads = consumer switch
            {
                IArgumentOperation { Parameter.Name: "bundles", Parent: IInvocationOperation call } => IsCreatePlacementGroup(symbols, call),
                IPropertyReferenceOperation property => property.Property.IsIndexer || property.Property.Name == "Count",
                IForEachLoopOperation => true,
                _ => false,
            };

            if (!reads)
            {
                return false;
            }
        }

        return true;
    }

    private static string Format(int value) => value.ToString(CultureInfo.InvariantCulture);
}
