using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using RaySharp.Analyzers.Model;

namespace RaySharp.Analyzers;

/// <summary>RAY002: a parameter or result of a remote method cannot be serialized.</summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class WireTypeAnalyzer : RemoteTypeAnalyzer
{
    /// <summary>Diagnostic property naming (by documentation ID) the user type the code fix makes [MemoryPackable].</summary>
    public const string FixableTypeProperty = "FixableType";

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
        ImmutableArray.Create(DiagnosticDescriptors.UnserializableType);


    private protected override void AnalyzeRemoteType(SymbolAnalysisContext context, INamedTypeSymbol type, RemoteType remote, RaySymbols symbols)
    {
        foreach (var member in remote.Members)
        {
            if (!member.IsCallable)
            {
                continue;
            }

            foreach (var parameter in member.Method.Parameters)
            {
                if (WireTypes.CheckParameter(parameter.Type, symbols) is { } problem)
                {
                    Report(context, problem, SymbolLocations.ParameterType(parameter, context.CancellationToken),
                        $"Parameter '{parameter.Name}'", member, parameter.Type);
                }
            }

            var shape = ReturnShape.Of(member.Method, symbols);
            if (shape.Payload is { } payload && WireTypes.CheckReturn(payload, symbols) is { } returnProblem)
            {
                Report(context, returnProblem, SymbolLocations.ReturnType(member.Method, context.CancellationToken),
                    shape.Kind == ReturnShapeKind.Stream ? "Each streamed item" : "The result", member, payload);
            }
        }
    }

    private static void Report(SymbolAnalysisContext context, WireProblem problem, Location location, string what, RemoteMember member, ITypeSymbol declared)
    {
        var properties = ImmutableDictionary<string, string?>.Empty;
        if (problem.FixableType is { } fixable && DocumentationCommentId.CreateDeclarationId(fixable) is { } id)
        {
            properties = properties.Add(FixableTypeProperty, id);
        }

        context.ReportDiagnostic(Diagnostic.Create(
            DiagnosticDescriptors.UnserializableType,
            location,
            properties,
            what,
            member.DisplayName,
            WireTypes.Display(declared),
            problem.Reason));
    }
}
