using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace RaySharp.Analyzers.AntiPatterns;

/// <summary>
/// RAY120: <c>catch (MyException)</c> around a Get or await of a ref. The remote exception arrives as
/// <c>RayTaskException</c>, so the clause never fires for it.
/// </summary>
/// <remarks>
/// The rule stays silent whenever the clause could still catch something real: when the type is one the
/// runtime itself throws on the caller's side (argument, cancellation, timeout, invalid-operation errors and
/// their relatives, serialization errors), and when other code in the try block could throw it (a call into
/// the user's own code, a delegate, a throw; for BCL exception types, any call, cast, division or indexing).
/// </remarks>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class RemoteExceptionCatchAnalyzer : RayApiAnalyzer
{
    /// <summary>Exceptions RaySharp's own API can throw in the caller's process; catching them (or a base) is meaningful.</summary>
    private static readonly string[] LocallyThrownExceptions =
    [
        "System.OperationCanceledException",
        "System.TimeoutException",
        "System.ArgumentException",
        "System.InvalidOperationException",
        "System.AggregateException",
        "System.NullReferenceException",
        "System.OutOfMemoryException",
        "System.NotSupportedException",
    ];

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
        ImmutableArray.Create(DiagnosticDescriptors.UserExceptionCaughtAroundGet);

    private protected override void Register(CompilationStartAnalysisContext context, RayApi api)
    {
        if (api.Exception is null)
        {
            return;
        }

        var locallyThrown = LocallyThrownExceptions
            .Select(name => context.Compilation.GetTypeByMetadataName(name))
            .Where(type => type is not null)
            .Select(type => type!)
            .ToImmutableArray();

        context.RegisterOperationAction(c => AnalyzeTry(c, api, locallyThrown), OperationKind.Try);
    }

    private static void AnalyzeTry(OperationAnalysisContext context, RayApi api, ImmutableArray<INamedTypeSymbol> locallyThrown)
    {
        var tryOperation = (ITryOperation)context.Operation;
        if (tryOperation.Catches.IsEmpty || FirstGet(tryOperation.Body, api) is not { } get)
        {
            return;
        }

        foreach (var clause in tryOperation.Catches)
        {
            if (clause.Syntax is not CatchClauseSyntax { Declaration.Type: { } typeSyntax } ||
                clause.ExceptionType is not INamedTypeSymbol caught ||
                !NeverThrownByGet(caught, api, locallyThrown) ||
                LocalCodeMayThrow(tryOperation.Body, caught, api))
            {
                continue;
            }

            context.ReportDiagnostic(Diagnostic.Create(
                DiagnosticDescriptors.UserExceptionCaughtAroundGet,
                typeSyntax.GetLocation(),
                caught.ToDisplayString(SymbolDisplayFormat.CSharpShortErrorMessageFormat),
                Describe(get)));
        }
    }

    /// <summary>The first Get or await of a ref in the block itself (not in lambdas it only declares).</summary>
    private static RefGet? FirstGet(IOperation block, RayApi api)
    {
        foreach (var operation in DescendantsInSameFunction(block))
        {
            if (RefGet.TryCreate(operation, api) is { ThrowsTaskErrors: true } get)
            {
                return get;
            }
        }

        return null;
    }

    /// <summary>True when a failure of remote code can never surface as <paramref name="caught"/> on this side.</summary>
    private static bool NeverThrownByGet(INamedTypeSymbol caught, RayApi api, ImmutableArray<INamedTypeSymbol> locallyThrown)
    {
        if (!DerivesFrom(caught, api.Exception) || SymbolEqualityComparer.Default.Equals(caught, api.Exception) ||
            caught.SpecialType != SpecialType.None || api.IsFromRaySharp(caught) ||
            caught.ContainingAssembly?.Name is "MemoryPack.Core" ||
            (api.RayException is { } rayException && (DerivesFrom(caught, rayException) || DerivesFrom(rayException, caught))))
        {
            return false;
        }

        foreach (var local in locallyThrown)
        {
            if (DerivesFrom(caught, local) || DerivesFrom(local, caught))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Whether anything else in the try block might throw <paramref name="caught"/> locally. User code can throw
    /// anything; the BCL can throw its own exception types but never the user's.
    /// </summary>
    private static bool LocalCodeMayThrow(IOperation block, INamedTypeSymbol caught, RayApi api)
    {
        var userException = IsInSource(caught, api);
        foreach (var operation in block.Descendants())
        {
            if (IsPartOfGet(operation, api))
            {
                continue;
            }

            switch (operation)
            {
                case IThrowOperation thrown when thrown.Exception is null || Related(RayApi.Unwrap(thrown.Exception).Type, caught):
                case IDynamicInvocationOperation or IDynamicMemberReferenceOperation or IDynamicObjectCreationOperation or IDynamicIndexerAccessOperation:
                    return true;

                case IInvocationOperation invocation when MayThrow(invocation.TargetMethod, userException, api) ||
                    invocation.Arguments.Any(a => a.Value.Type?.TypeKind == TypeKind.Delegate):
                    return true;

                case IObjectCreationOperation { Constructor: { } constructor } when MayThrow(constructor, userException, api):
                    return true;

                case IPropertyReferenceOperation property when !api.IsProxyMember(property.Property) &&
                    MayThrow(property.Property.GetMethod ?? property.Property.SetMethod, userException, api):
                    return true;

                case IForEachLoopOperation loop when !userException || IsInSource(RayApi.Unwrap(loop.Collection).Type, api):
                    return true;

                case IUsingOperation or IUsingDeclarationOperation when userException:
                    return true;

                case IBinaryOperation { OperatorMethod: { } method } when MayThrow(method, userException, api):
                    return true;

                case IUnaryOperation { OperatorMethod: { } method } when MayThrow(method, userException, api):
                    return true;

                case IConversionOperation { OperatorMethod: { } method } when MayThrow(method, userException, api):
                    return true;

                case IBinaryOperation { OperatorKind: BinaryOperatorKind.Divide or BinaryOperatorKind.Remainder } or
                     IArrayElementReferenceOperation or
                     IConversionOperation { IsImplicit: false } when !userException:
                    return true;
            }
        }

        return false;
    }

    /// <summary>The wait itself (<c>.Result</c>, <c>.GetAwaiter()</c> of a ref) is not "other code".</summary>
    private static bool IsPartOfGet(IOperation operation, RayApi api) =>
        RefGet.TryCreate(operation, api) is not null ||
        (operation is IInvocationOperation { TargetMethod.Name: "GetAwaiter", Instance: { } awaited } &&
         (api.IsObjectRef(awaited.Type) || RefGet.IsTaskOfRef(awaited, api)));

    private static bool Related(ITypeSymbol? thrown, ITypeSymbol caught) =>
        thrown is null || DerivesFrom(thrown, caught) || DerivesFrom(caught, thrown);

    private static bool MayThrow(IMethodSymbol? method, bool userException, RayApi api)
    {
        if (method is null || api.IsFromRaySharp(method) || api.IsProxyMember(method))
        {
            return false;
        }

        if (IsInSource(method, api))
        {
            return true;
        }

        // The BCL never throws the user's exception types; of its own, a console write is taken as safe.
        return !userException && !RaySharp.Analyzers.Model.RaySymbols.Is(method.ContainingType, api.Console);
    }

    private static bool IsInSource(ISymbol? symbol, RayApi api) =>
        symbol is not null && SymbolEqualityComparer.Default.Equals(symbol.ContainingAssembly, api.Compilation.Assembly);

    private static bool DerivesFrom(ITypeSymbol type, ITypeSymbol? baseType)
    {
        for (var current = type; current is not null; current = current.BaseType)
        {
            if (SymbolEqualityComparer.Default.Equals(current, baseType))
            {
                return true;
            }
        }

        return false;
    }

    private static IEnumerable<IOperation> DescendantsInSameFunction(IOperation root)
    {
        var stack = new Stack<IOperation>();
        stack.Push(root);
        while (stack.Count > 0)
        {
            var current = stack.Pop();
            yield return current;
            foreach (var child in current.ChildOperations.Reverse())
            {
                if (child is not (IAnonymousFunctionOperation or ILocalFunctionOperation))
                {
                    stack.Push(child);
                }
            }
        }
    }

    private static string Describe(RefGet get)
    {
        var text = get.Operation.Syntax.ToString();
        return text.Length <= 60 && text.IndexOf('\n') < 0 ? text : get.DisplayName;
    }
}
