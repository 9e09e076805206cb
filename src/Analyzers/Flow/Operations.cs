using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace RaySharp.Analyzers.Flow;

/// <summary>Small, reusable walks over the IOperation tree of one method body.</summary>
internal static class Operations
{
    /// <summary>Collection methods that keep their argument; lookups such as Contains or Remove do not.</summary>
    public static readonly ImmutableHashSet<string> StoringMethods = ImmutableHashSet.Create(
        "Add", "AddRange", "Insert", "Push", "Enqueue", "TryAdd", "AddOrUpdate", "GetOrAdd", "TryUpdate", "Set", "SetValue");

    /// <summary>The operation under any implicit or explicit conversions.</summary>
    public static IOperation? Unwrap(IOperation? operation)
    {
        while (operation is IConversionOperation conversion)
        {
            operation = conversion.Operand;
        }

        return operation;
    }

    /// <summary>The first ancestor that is not a conversion: where a value actually goes.</summary>
    public static IOperation? ConsumerOf(IOperation operation)
    {
        var parent = operation.Parent;
        while (parent is IConversionOperation)
        {
            parent = parent.Parent;
        }

        return parent;
    }

    /// <summary>The outermost operation of the body (method, lambda or local function) that contains <paramref name="operation"/>.</summary>
    public static IOperation Root(IOperation operation)
    {
        var current = operation;
        while (current.Parent is { } parent)
        {
            current = parent;
        }

        return current;
    }

    /// <summary>The innermost loop around <paramref name="operation"/> in the same function, not crossing into an enclosing lambda or local function.</summary>
    public static ILoopOperation? EnclosingLoop(IOperation operation)
    {
        for (var current = operation.Parent; current is not null; current = current.Parent)
        {
            switch (current)
            {
                case ILoopOperation loop when IsInBody(loop, operation):
                    return loop;
                case IAnonymousFunctionOperation or ILocalFunctionOperation:
                    return null;
            }
        }

        return null;
    }

    /// <summary>True when <paramref name="operation"/> runs once per iteration: inside the body, not the collection or header.</summary>
    private static bool IsInBody(ILoopOperation loop, IOperation operation) =>
        loop.Body.Syntax.Span.Contains(operation.Syntax.Span);

    /// <summary>The innermost lambda or local function around <paramref name="operation"/>, or null in the method body itself.</summary>
    public static IOperation? EnclosingFunction(IOperation operation)
    {
        for (var current = operation.Parent; current is not null; current = current.Parent)
        {
            if (current is IAnonymousFunctionOperation or ILocalFunctionOperation)
            {
                return current;
            }
        }

        return null;
    }

    /// <summary>Every operation under <paramref name="root"/>, itself included.</summary>
    public static IEnumerable<IOperation> DescendantsAndSelf(IOperation root)
    {
        yield return root;
        foreach (var descendant in root.Descendants())
        {
            yield return descendant;
        }
    }

    /// <summary>All references to <paramref name="local"/> under <paramref name="root"/>.</summary>
    public static IEnumerable<ILocalReferenceOperation> References(IOperation root, ILocalSymbol local) =>
        root.Descendants().OfType<ILocalReferenceOperation>().Where(r => SymbolEqualityComparer.Default.Equals(r.Local, local));

    /// <summary>All references to <paramref name="parameter"/> under <paramref name="root"/>.</summary>
    public static IEnumerable<IParameterReferenceOperation> References(IOperation root, IParameterSymbol parameter) =>
        root.Descendants().OfType<IParameterReferenceOperation>().Where(r => SymbolEqualityComparer.Default.Equals(r.Parameter, parameter));

    /// <summary>True when the reference is written: assigned, incremented, or passed by ref or out.</summary>
    public static bool IsWrite(IOperation reference)
    {
        var parent = reference.Parent;
        return parent switch
        {
            IAssignmentOperation assignment => assignment.Target == reference,
            IIncrementOrDecrementOperation => true,
            IArgumentOperation argument => argument.Parameter?.RefKind is RefKind.Ref or RefKind.Out,
            ITupleOperation => parent.Parent is IDeconstructionAssignmentOperation,
            _ => false,
        };
    }

    /// <summary>The values stored into <paramref name="local"/>: its initializer and every assignment.</summary>
    public static IEnumerable<IOperation> ValuesAssigned(IOperation root, ILocalSymbol local)
    {
        foreach (var operation in root.Descendants())
        {
            switch (operation)
            {
                case IVariableDeclaratorOperation declarator when SymbolEqualityComparer.Default.Equals(declarator.Symbol, local):
                    if (declarator.GetVariableInitializer() is { } initializer)
                    {
                        yield return initializer.Value;
                    }

                    break;
                case ISimpleAssignmentOperation { Target: ILocalReferenceOperation target } assignment
                    when SymbolEqualityComparer.Default.Equals(target.Local, local):
                    yield return assignment.Value;
                    break;
            }
        }
    }

    /// <summary>The calls made on <paramref name="local"/> as receiver, e.g. <c>list.Add(x)</c>.</summary>
    public static IEnumerable<IInvocationOperation> CallsOn(IOperation root, ILocalSymbol local) =>
        root.Descendants().OfType<IInvocationOperation>()
            .Where(i => Unwrap(i.Instance) is ILocalReferenceOperation target && SymbolEqualityComparer.Default.Equals(target.Local, local));

    /// <summary>True when <paramref name="symbol"/> (a local or parameter) is declared outside <paramref name="function"/>'s body.</summary>
    public static bool IsDeclaredOutside(ISymbol symbol, IMethodSymbol function)
    {
        for (var container = symbol.ContainingSymbol; container is IMethodSymbol method; container = method.ContainingSymbol)
        {
            if (SymbolEqualityComparer.Default.Equals(method, function))
            {
                return false;
            }

            if (method.MethodKind is not (MethodKind.AnonymousFunction or MethodKind.LocalFunction))
            {
                break;
            }
        }

        return true;
    }

    /// <summary>True when the text span of <paramref name="inner"/> lies within <paramref name="outer"/>.</summary>
    public static bool IsWithin(IOperation inner, IOperation outer) => outer.Syntax.Span.Contains(inner.Syntax.Span);

    /// <summary>True when the value of <paramref name="operation"/> is thrown away (an expression statement or <c>_ = ...</c>).</summary>
    public static bool IsDiscarded(IOperation operation) =>
        ConsumerOf(operation) switch
        {
            IExpressionStatementOperation => true,
            ISimpleAssignmentOperation { Target: IDiscardOperation } => true,
            _ => false,
        };

    /// <summary>How a message names a field or property: <c>field 'Monitor._onDone'</c>, <c>static property 'Cache.Last'</c>.</summary>
    public static string DescribeMember(ISymbol member) =>
        (member.IsStatic ? "static " : "") + (member is IFieldSymbol ? "field" : "property") +
        $" '{member.ToDisplayString(SymbolDisplayFormat.CSharpShortErrorMessageFormat)}'";

    /// <summary>How a message names the value of <paramref name="operation"/>: the variable or member, else its code.</summary>
    public static string NameOf(IOperation operation) => Unwrap(operation) switch
    {
        ILocalReferenceOperation local => local.Local.Name,
        IParameterReferenceOperation parameter => parameter.Parameter.Name,
        IFieldReferenceOperation field => field.Field.Name,
        IPropertyReferenceOperation property => property.Property.Name,
        { } other => other.Syntax.ToString(),
        _ => operation.Syntax.ToString(),
    };
}
