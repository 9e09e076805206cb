using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using RaySharp.Analyzers.Model;

namespace RaySharp.Analyzers;

/// <summary>RAY001: a type with [RayRemote] members, or a type containing it, is not partial.</summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class PartialTypeAnalyzer : RemoteTypeAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
        ImmutableArray.Create(DiagnosticDescriptors.TypeMustBePartial);


    private protected override void AnalyzeRemoteType(SymbolAnalysisContext context, INamedTypeSymbol type, RemoteType remote, RaySymbols symbols)
    {
        // Every declaration must be partial, as must the declarations around it: the generated part
        // repeats the whole chain. Report the first declaration whose chain lacks it, so the fix can
        // start from there.
        var declarations = type.DeclaringSyntaxReferences
            .Select(r => r.GetSyntax(context.CancellationToken))
            .OfType<TypeDeclarationSyntax>()
            .OrderBy(d => d.SyntaxTree.FilePath, StringComparer.Ordinal)
            .ThenBy(d => d.SpanStart);

        foreach (var declaration in declarations)
        {
            var missing = new List<string>();
            var symbol = type;
            foreach (var node in declaration.AncestorsAndSelf().OfType<TypeDeclarationSyntax>())
            {
                if (symbol is null)
                {
                    break;
                }

                if (!node.Modifiers.Any(SyntaxKind.PartialKeyword))
                {
                    missing.Add("'" + WireTypes.Display(symbol) + "'");
                }

                symbol = symbol.ContainingType;
            }

            if (missing.Count == 0)
            {
                continue;
            }

            missing.Reverse();
            var list = missing.Count == 1
                ? missing[0]
                : string.Join(", ", missing.Take(missing.Count - 1)) + " and " + missing[missing.Count - 1];

            context.ReportDiagnostic(Diagnostic.Create(
                DiagnosticDescriptors.TypeMustBePartial,
                declaration.Identifier.GetLocation(),
                WireTypes.Display(type),
                list));
            return;
        }
    }
}
