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
    /// True unless a compile-time constant bounds how often the loop runs: a for, while or do loop that
    /// counts a local from a constant to a constant (<c>i &lt; 100</c>, <c>i &lt; N</c> with <c>const int N</c>),
    /// or a foreach over a collection of constant length (a literal array or collection, a constant string or
    /// <c>Enumerable.Range</c>). A bound known only at run time (a parameter, a field, a collection's
    /// <c>Count</c> or <c>Length</c>, a method's result) does not bound it, nor does reading input
    /// (<c>while (reader.ReadLine() is { } line)</c>) or an asynchronous sequence.
    /// </summary>
    public static bool IsUnbounded(ILoopOperation loop) => loop switch
    {
        IWhileLoopOperation whileLoop => !IsConstantBound(whileLoop.Condition, loop),
        IForLoopOperation forLoop => !IsConstantBound(forLoop.Condition, loop),
        IForEachLoopOperation forEach => forEach.IsAsynchronous || !HasConstantLength(forEach.Collection, hops: 0),
        _ => true,
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

    /// <summary>
    /// A loop condition that stops a counter at a constant: <c>i &lt; 100</c> (either side, any of
    /// <c>&lt; &lt;= &gt; &gt;=</c>), one such conjunct of an <c>&amp;&amp;</c>, or both sides of an <c>||</c>.
    /// </summary>
    private static bool IsConstantBound(IOperation? condition, ILoopOperation loop)
    {
        switch (Operations.Unwrap(condition))
        {
            case IBinaryOperation { OperatorKind: BinaryOperatorKind.ConditionalAnd } and:
                return IsConstantBound(and.LeftOperand, loop) || IsConstantBound(and.RightOperand, loop);
            case IBinaryOperation { OperatorKind: BinaryOperatorKind.ConditionalOr } or:
                return IsConstantBound(or.LeftOperand, loop) && IsConstantBound(or.RightOperand, loop);
            case IBinaryOperation
            {
                OperatorKind: BinaryOperatorKind.LessThan or BinaryOperatorKind.LessThanOrEqual or
                    BinaryOperatorKind.GreaterThan or BinaryOperatorKind.GreaterThanOrEqual,
            } comparison:
                return (IsConstant(comparison.RightOperand) && IsCounterFromConstant(comparison.LeftOperand, loop)) ||
                    (IsConstant(comparison.LeftOperand) && IsCounterFromConstant(comparison.RightOperand, loop));
            default:
                return false;
        }
    }

    /// <summary>A compile-time constant (a literal, a <c>const</c>), or the length of a collection of constant length.</summary>
    private static bool IsConstant(IOperation operand) => Operations.Unwrap(operand) switch
    {
        { ConstantValue.HasValue: true } => true,
        IPropertyReferenceOperation { Property.Name: "Count" or "Length", Instance: { } collection } => HasConstantLength(collection, hops: 0),
        _ => false,
    };

    /// <summary>
    /// A local counter that starts from constants only: every value assigned to it is a compile-time constant,
    /// and none is assigned in the loop's body or step, which only count it (<c>i++</c>, <c>i += 2</c>). A counter
    /// starting from a parameter, <c>for (var i = n; i &gt; 0; i--)</c>, runs <c>n</c> times.
    /// </summary>
    private static bool IsCounterFromConstant(IOperation operand, ILoopOperation loop)
    {
        if (Operations.Unwrap(operand) is not ILocalReferenceOperation counter)
        {
            return false;
        }

        var starts = Operations.ValuesAssigned(Operations.Root(loop), counter.Local).ToList();
        return starts.Count > 0 && starts.All(value => IsConstant(value) && !Operations.IsWithin(value, loop.Body) &&
            !(loop is IForLoopOperation forLoop && forLoop.AtLoopBottom.Any(step => Operations.IsWithin(value, step))));
    }

    /// <summary>
    /// A collection whose length is a compile-time constant: a literal array or collection (no spread), a
    /// constant string, <c>Enumerable.Range</c> or <c>Repeat</c> with a constant count, or a local assigned
    /// once from one of these and not added to.
    /// </summary>
    private static bool HasConstantLength(IOperation? collection, int hops)
    {
        switch (Operations.Unwrap(collection))
        {
            case { ConstantValue: { HasValue: true, Value: string } }:
                return true;
            case IArrayCreationOperation array:
                return array.Initializer is not null || array.DimensionSizes.All(IsConstant);
            case ICollectionExpressionOperation literal:
                return !literal.Elements.Any(e => e is ISpreadOperation);
            case IObjectCreationOperation { Initializer: not null } created:
                return created.Arguments.All(a => IsConstant(a.Value));
            case IInvocationOperation { TargetMethod: { Name: "Range" or "Repeat", ContainingType.Name: "Enumerable" } } sequence:
                return sequence.Arguments.Length == 2 && IsConstant(sequence.Arguments[1].Value);
            case ILocalReferenceOperation local when hops == 0:
                var root = Operations.Root(local);
                var assigned = Operations.ValuesAssigned(root, local.Local).ToList();
                return assigned.Count == 1 && HasConstantLength(assigned[0], hops + 1) &&
                    !Operations.CallsOn(root, local.Local).Any(c => c.TargetMethod.Name is "Add" or "AddRange" or "Insert" or "InsertRange" or "Push" or "Enqueue");
            default:
                return false;
        }
    }

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
}
