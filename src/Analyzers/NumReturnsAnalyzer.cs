using System.Collections.Immutable;
using System.Globalization;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using RaySharp.Analyzers.Model;

namespace RaySharp.Analyzers;

/// <summary>RAY004: NumReturns disagrees with what the method returns.</summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class NumReturnsAnalyzer : RemoteTypeAnalyzer
{
    private const string NumReturns = "NumReturns";

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
        ImmutableArray.Create(DiagnosticDescriptors.NumReturnsMismatch);


    private protected override void AnalyzeRemoteType(SymbolAnalysisContext context, INamedTypeSymbol type, RemoteType remote, RaySymbols symbols)
    {
        if (remote.ActorAttribute is { } actorAttribute && TryGetNumReturns(actorAttribute, out var onClass))
        {
            context.ReportDiagnostic(Diagnostic.Create(
                DiagnosticDescriptors.NumReturnsMismatch,
                AttributeArguments.Locate(actorAttribute, NumReturns, type, context.CancellationToken),
                WireTypes.Display(type),
                onClass.ToString(CultureInfo.InvariantCulture),
                $"an actor class returns nothing itself; put [RayMethod(NumReturns = {onClass.ToString(CultureInfo.InvariantCulture)})] on the method that returns the tuple"));
        }

        foreach (var member in remote.Members)
        {
            if (member.Kind is not (RemoteMemberKind.Task or RemoteMemberKind.ActorMethod))
            {
                continue;
            }

            Check(context, symbols, member, member.RemoteAttribute);
            if (member.Kind == RemoteMemberKind.ActorMethod)
            {
                Check(context, symbols, member, member.MethodAttribute);
            }
        }
    }

    private static void Check(SymbolAnalysisContext context, RaySymbols symbols, RemoteMember member, AttributeData? attribute)
    {
        if (attribute is null || !TryGetNumReturns(attribute, out var count))
        {
            return;
        }

        var shape = ReturnShape.Of(member.Method, symbols);
        var problem = Explain(shape, count);
        if (problem is null)
        {
            return;
        }

        context.ReportDiagnostic(Diagnostic.Create(
            DiagnosticDescriptors.NumReturnsMismatch,
            AttributeArguments.Locate(attribute, NumReturns, member.Method, context.CancellationToken),
            member.DisplayName,
            count.ToString(CultureInfo.InvariantCulture),
            problem));
    }

    /// <summary>Null when <paramref name="count"/> fits <paramref name="shape"/>; 1 always means "one object".</summary>
    private static string? Explain(ReturnShape shape, int count)
    {
        switch (shape.Kind)
        {
            case ReturnShapeKind.None:
                return count is 0 or 1 ? null : "it returns no value; remove NumReturns";
            case ReturnShapeKind.Stream:
                return count == 1 ? null : "it streams its items (IAsyncEnumerable<T>), one object each; remove NumReturns";
        }

        var payload = shape.Payload!;
        if (payload is INamedTypeSymbol { IsTupleType: true } tuple)
        {
            var arity = tuple.TupleElements.Length;
            return count == arity || count == 1
                ? null
                : $"it returns a tuple of {arity} elements; set NumReturns = {arity} to get one object per element, or remove it to get the tuple as one object";
        }

        return count == 1
            ? null
            : $"it returns '{WireTypes.Display(payload)}', which is not a tuple; return a tuple of {count} elements or remove NumReturns";
    }

    private static bool TryGetNumReturns(AttributeData attribute, out int count)
    {
        if (AttributeArguments.TryGet(attribute, NumReturns, out var value) && value.Value is int n)
        {
            count = n;
            return true;
        }

        count = 0;
        return false;
    }
}
