using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace RaySharp.Analyzers.AntiPatterns;

/// <summary>
/// RAY109's finding, shared by the analyzer and its code fix: a large value (an array or collection held in
/// a local, a parameter or a readonly field) passed by value to a remote call inside a loop that does not
/// change it, so every iteration serializes and stores the same bytes again.
/// </summary>
internal sealed class RepeatedArgument
{
    private RepeatedArgument(IOperation value, ISymbol symbol, ITypeSymbol argType, IOperation loop, IInvocationOperation call)
    {
        Value = value;
        Symbol = symbol;
        ArgType = argType;
        Loop = loop;
        Call = call;
    }

    /// <summary>The reference to the value, as written in the call (<c>data</c>).</summary>
    public IOperation Value { get; }

    /// <summary>The local, parameter or field holding the value.</summary>
    public ISymbol Symbol { get; }

    /// <summary>The <c>T</c> of the proxy's <c>Arg&lt;T&gt;</c> parameter: what <c>Ray.Put</c> must store.</summary>
    public ITypeSymbol ArgType { get; }

    /// <summary>The innermost loop around the call: a loop statement, or a lambda run per element (LINQ, Parallel, List.ForEach).</summary>
    public IOperation Loop { get; }

    public IInvocationOperation Call { get; }

    /// <summary>The name the code fix gives the ref: <c>data</c> → <c>dataRef</c>, <c>_weights</c> → <c>weightsRef</c>.</summary>
    public string SuggestedRefName
    {
        get
        {
            var name = Symbol.Name;
            if (name.StartsWith("s_", System.StringComparison.Ordinal) || name.StartsWith("m_", System.StringComparison.Ordinal))
            {
                name = name.Substring(2);
            }

            name = name.TrimStart('_');
            return name.Length == 0 ? "valueRef" : name + "Ref";
        }
    }

    public static RepeatedArgument? TryCreate(IArgumentOperation argument, RayApi api)
    {
        if (argument.Parent is not IInvocationOperation call || !api.IsRemoteCall(call.TargetMethod) ||
            argument.Parameter is not { } parameter || !api.IsArg(parameter.Type) ||
            argument.Value is not IConversionOperation { OperatorMethod: not null } conversion)
        {
            return null;
        }

        var value = RayApi.Unwrap(conversion.Operand);
        var symbol = value switch
        {
            ILocalReferenceOperation local => (ISymbol)local.Local,
            IParameterReferenceOperation p => p.Parameter,
            IFieldReferenceOperation { Field.IsReadOnly: true, Instance: null or IInstanceReferenceOperation } field => field.Field,
            _ => null,
        };

        if (symbol is null || !IsLargeValue(value.Type, api) || IsWrittenAsSmallLiteral(symbol) ||
            FindLoop(call, api) is not { } loop || IsDeclaredWithin(symbol, loop.Syntax) || IsWrittenWithin(symbol, loop))
        {
            return null;
        }

        var argType = ((INamedTypeSymbol)parameter.Type).TypeArguments[0];
        return new RepeatedArgument(value, symbol, argType, loop, call);
    }

    /// <summary>Arrays and collections (not strings, and not collections of refs, which are small).</summary>
    private static bool IsLargeValue(ITypeSymbol? type, RayApi api)
    {
        if (type is IArrayTypeSymbol array)
        {
            return !HoldsRefs(array.ElementType, api);
        }

        if (type is not INamedTypeSymbol named || named.SpecialType == SpecialType.System_String || api.IsObjectRef(named))
        {
            return false;
        }

        var isCollection = named.SpecialType == SpecialType.System_Collections_IEnumerable;
        foreach (var implemented in named.AllInterfaces)
        {
            isCollection |= implemented.SpecialType == SpecialType.System_Collections_IEnumerable;
        }

        if (!isCollection)
        {
            return false;
        }

        foreach (var typeArgument in named.TypeArguments)
        {
            if (HoldsRefs(typeArgument, api))
            {
                return false;
            }
        }

        return true;
    }

    private static bool HoldsRefs(ITypeSymbol type, RayApi api) =>
        api.IsObjectRef(type) || api.IsActorHandleOf(type, out _) || Model.RaySymbols.Is(type, api.Symbols.ActorHandle);

    // A collection written out element by element in the source ({ 1, 2, 3 }, [a, b]) is small by
    // construction; storing it once would save nothing worth a warning.
    private static bool IsWrittenAsSmallLiteral(ISymbol symbol)
    {
        if (symbol is not ILocalSymbol local || local.DeclaringSyntaxReferences.Length != 1 ||
            local.DeclaringSyntaxReferences[0].GetSyntax() is not VariableDeclaratorSyntax { Initializer.Value: { } initializer })
        {
            return false;
        }

        return initializer switch
        {
            ArrayCreationExpressionSyntax { Initializer: not null } => true,
            ImplicitArrayCreationExpressionSyntax => true,
            CollectionExpressionSyntax => true,
            InitializerExpressionSyntax => true,
            BaseObjectCreationExpressionSyntax { Initializer: { } init } => init.IsKind(SyntaxKind.CollectionInitializerExpression),
            _ => false,
        };
    }

    /// <summary>The innermost loop statement (the call in its body) or per-element lambda around <paramref name="call"/>.</summary>
    private static IOperation? FindLoop(IOperation call, RayApi api)
    {
        for (var child = call; child.Parent is { } parent; child = parent)
        {
            if (parent is ILoopOperation loop && loop.Body == child)
            {
                return loop;
            }

            if (parent is IAnonymousFunctionOperation lambda && IsRunPerElement(lambda, api))
            {
                return lambda;
            }
        }

        return null;
    }

    private static bool IsRunPerElement(IAnonymousFunctionOperation lambda, RayApi api)
    {
        var argument = lambda.Parent is IDelegateCreationOperation creation ? creation.Parent : lambda.Parent;
        if (argument is not IArgumentOperation { Parent: IInvocationOperation invocation })
        {
            return false;
        }

        var method = invocation.TargetMethod;
        var type = method.ContainingType;
        var ns = type.ContainingNamespace?.ToDisplayString();
        return (ns == "System.Linq" && type.Name is "Enumerable" or "ParallelEnumerable") ||
            (ns == "System.Threading.Tasks" && type.Name == "Parallel") ||
            (method.Name == "ForEach" && ns == "System.Collections.Generic" && type.Name == "List");
    }

    private static bool IsDeclaredWithin(ISymbol symbol, SyntaxNode loop)
    {
        foreach (var reference in symbol.DeclaringSyntaxReferences)
        {
            if (reference.SyntaxTree == loop.SyntaxTree && loop.Span.Contains(reference.Span))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsWrittenWithin(ISymbol symbol, IOperation loop)
    {
        foreach (var operation in loop.Descendants())
        {
            var target = operation switch
            {
                IAssignmentOperation assignment => assignment.Target,
                IIncrementOrDecrementOperation increment => increment.Target,
                IArgumentOperation { Parameter.RefKind: RefKind.Ref or RefKind.Out } argument => argument.Value,
                _ => null,
            };

            if (target is not null && SymbolEqualityComparer.Default.Equals(ReferencedSymbol(target), symbol))
            {
                return true;
            }
        }

        return false;
    }

    private static ISymbol? ReferencedSymbol(IOperation operation) => operation switch
    {
        ILocalReferenceOperation local => local.Local,
        IParameterReferenceOperation parameter => parameter.Parameter,
        IFieldReferenceOperation field => field.Field,
        _ => null,
    };
}
