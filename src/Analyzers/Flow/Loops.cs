using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace RaySharp.Analyzers.Flow;

/// <summary>How many times a loop runs, as far as the code shows it.</summary>
internal static class Loops
{
    /// <summary>Loops at most this long (a constant bound, a literal collection) are small enough to leave alone.</summary>
    public const int SmallCount = 1000;

    /// <summary>
    /// True when nothing bounds the loop before it starts: a while or do loop that does not count a
    /// variable up to a bound, a for loop without a condition, or a foreach over a lazy sequence (one that
    /// is not an array or a collection with a count). A loop up to a variable, or a foreach over a list, has
    /// a known length and is not counted.
    /// </summary>
    public static bool IsUnbounded(ILoopOperation loop) => loop switch
    {
        IWhileLoopOperation whileLoop => !IsCountingCondition(whileLoop.Condition),
        IForLoopOperation forLoop => forLoop.Condition is null,
        IForEachLoopOperation forEach => forEach.IsAsynchronous || IsLazySequence(Operations.Unwrap(forEach.Collection)?.Type),
        _ => false,
    };

    /// <summary>True when the loop provably runs at most <see cref="SmallCount"/> times.</summary>
    public static bool IsProvablySmall(ILoopOperation loop) => loop switch
    {
        IForLoopOperation { Condition: IBinaryOperation condition } => IsSmallBound(condition),
        IForEachLoopOperation forEach => IsSmallCollection(forEach.Collection, hops: 0),
        _ => false,
    };

    /// <summary>True when <paramref name="collection"/> is a literal collection or a short constant range.</summary>
    public static bool IsSmallCollection(IOperation? collection, int hops)
    {
        switch (Operations.Unwrap(collection))
        {
            case IArrayCreationOperation { Initializer: not null }:
            case ICollectionExpressionOperation:
            case IObjectCreationOperation { Initializer: not null }:
                return true;
            case IInvocationOperation { TargetMethod: { Name: "Range", ContainingType.Name: "Enumerable" } } range:
                return range.Arguments.Length == 2 && range.Arguments[1].Value.ConstantValue is { HasValue: true, Value: int count } && count <= SmallCount;
            case ILocalReferenceOperation local when hops == 0:
                var assigned = Operations.ValuesAssigned(Operations.Root(local), local.Local).ToList();
                return assigned.Count == 1 && IsSmallCollection(assigned[0], hops + 1);
            default:
                return false;
        }
    }

    /// <summary><c>i &lt; n</c> and the like: a variable compared with a bound.</summary>
    private static bool IsCountingCondition(IOperation? condition) =>
        condition is IBinaryOperation
        {
            OperatorKind: BinaryOperatorKind.LessThan or BinaryOperatorKind.LessThanOrEqual or
                BinaryOperatorKind.GreaterThan or BinaryOperatorKind.GreaterThanOrEqual,
        } comparison &&
        (IsVariable(comparison.LeftOperand) || IsVariable(comparison.RightOperand));

    private static bool IsVariable(IOperation operand) =>
        Operations.Unwrap(operand) is ILocalReferenceOperation or IParameterReferenceOperation;

    private static bool IsSmallBound(IBinaryOperation condition)
    {
        var bound = condition.OperatorKind switch
        {
            BinaryOperatorKind.LessThan or BinaryOperatorKind.LessThanOrEqual => condition.RightOperand,
            BinaryOperatorKind.GreaterThan or BinaryOperatorKind.GreaterThanOrEqual => condition.LeftOperand,
            _ => null,
        };
        return bound?.ConstantValue is { HasValue: true, Value: int count } && count <= SmallCount;
    }

    private static bool IsLazySequence(ITypeSymbol? type)
    {
        if (type is null || type is IArrayTypeSymbol || type.IsRefLikeType || type.SpecialType == SpecialType.System_String)
        {
            return false;
        }

        return !AllTypes(type).Any(t => t.OriginalDefinition.SpecialType is
            SpecialType.System_Collections_Generic_ICollection_T or SpecialType.System_Collections_Generic_IReadOnlyCollection_T ||
            t.OriginalDefinition.ToDisplayString() == "System.Collections.ICollection");
    }

    private static System.Collections.Generic.IEnumerable<ITypeSymbol> AllTypes(ITypeSymbol type) =>
        new[] { type }.Concat(type.AllInterfaces);
}
