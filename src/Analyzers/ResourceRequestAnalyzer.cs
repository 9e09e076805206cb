using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using RaySharp.Analyzers.Model;

namespace RaySharp.Analyzers;

/// <summary>
/// RAY005: resource requests in [RayRemote] that Ray would reject: negative amounts, fractions above 1
/// that are not whole, and custom resources not written as <c>"name=amount"</c>.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ResourceRequestAnalyzer : DiagnosticAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
        ImmutableArray.Create(DiagnosticDescriptors.InvalidResourceRequest);

    public override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.RegisterCompilationStartAction(start =>
        {
            if (RaySymbols.TryCreate(start.Compilation) is { } symbols)
            {
                start.RegisterSymbolAction(c => Analyze(c, symbols), SymbolKind.NamedType, SymbolKind.Method);
            }
        });
    }

    private static void Analyze(SymbolAnalysisContext context, RaySymbols symbols)
    {
        if (symbols.FindAttribute(context.Symbol, symbols.RayRemoteAttribute) is not { } attribute)
        {
            return;
        }

        var owner = context.Symbol is IMethodSymbol method
            ? WireTypes.Display(method.ContainingType) + "." + method.Name
            : WireTypes.Display((INamedTypeSymbol)context.Symbol);

        CheckProcessorCount(context, attribute, owner, "NumCpus", "CPUs");
        CheckProcessorCount(context, attribute, owner, "NumGpus", "GPUs");

        if (AttributeArguments.TryGet(attribute, "Memory", out var memory) && memory.Value is long bytes && bytes < 0)
        {
            Report(context, AttributeArguments.Locate(attribute, "Memory", context.Symbol, context.CancellationToken), owner,
                $"Memory = {bytes.ToString(CultureInfo.InvariantCulture)} is negative; give the bytes the code needs, or 0");
        }

        if (AttributeArguments.TryGet(attribute, "Resources", out var resources) && resources.Kind == TypedConstantKind.Array && !resources.IsNull)
        {
            CheckCustomResources(context, attribute, owner, resources.Values);
        }
    }

    private static void CheckProcessorCount(SymbolAnalysisContext context, AttributeData attribute, string owner, string property, string unit)
    {
        if (!AttributeArguments.TryGet(attribute, property, out var value) || value.Value is not double amount)
        {
            return;
        }

        var problem = CheckAmount(amount, $"{property} = {Format(amount)}", unit);
        if (problem is not null)
        {
            Report(context, AttributeArguments.Locate(attribute, property, context.Symbol, context.CancellationToken), owner, problem);
        }
    }

    private static void CheckCustomResources(SymbolAnalysisContext context, AttributeData attribute, string owner, ImmutableArray<TypedConstant> entries)
    {
        var argument = AttributeArguments.FindSyntax(attribute, "Resources", context.CancellationToken);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < entries.Length; i++)
        {
            var text = entries[i].Value as string;
            var problem = CheckEntry(text, seen);
            if (problem is null)
            {
                continue;
            }

            var location = ElementLocation(argument, i, context.CancellationToken)
                ?? AttributeArguments.Locate(attribute, "Resources", context.Symbol, context.CancellationToken);
            Report(context, location, owner, problem);
        }
    }

    private static string? CheckEntry(string? entry, HashSet<string> seen)
    {
        if (entry is null)
        {
            return "a Resources entry is null; write each entry as \"name=amount\", e.g. \"accelerator=1\"";
        }

        var quoted = "\"" + entry + "\"";
        var equals = entry.IndexOf('=');
        if (equals < 0)
        {
            return $"Resources entry {quoted} has no '='; write it as \"name=amount\", e.g. \"{(entry.Trim().Length == 0 ? "accelerator" : entry.Trim())}=1\"";
        }

        var name = entry.Substring(0, equals).Trim();
        if (name.Length == 0)
        {
            return $"Resources entry {quoted} has an empty name; write it as \"name=amount\"";
        }

        var amountText = entry.Substring(equals + 1).Trim();
        if (!double.TryParse(amountText, NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) ||
            double.IsNaN(amount) || double.IsInfinity(amount))
        {
            return $"Resources entry {quoted} has amount \"{amountText}\", which is not a number; write it as \"{name}=1\" or \"{name}=0.5\"";
        }

        if (CheckAmount(amount, $"Resources entry {quoted}", "units of '" + name + "'") is { } problem)
        {
            return problem;
        }

        if (name is "CPU" or "GPU")
        {
            var property = name == "CPU" ? "NumCpus" : "NumGpus";
            return $"Resources entry {quoted} names the built-in resource '{name}'; use {property} instead";
        }

        return seen.Add(name) ? null : $"Resources lists '{name}' more than once; give each resource one entry";
    }

    /// <summary>Ray's rule: amounts are non-negative, and a fraction is only allowed up to 1.</summary>
    private static string? CheckAmount(double amount, string what, string unit)
    {
        if (double.IsNaN(amount) || double.IsInfinity(amount))
        {
            return $"{what} is not a number of {unit}; use a finite amount";
        }

        if (amount < 0)
        {
            return $"{what} is negative; request 0 or more {unit}";
        }

        if (amount > 1 && Math.Floor(amount) != amount)
        {
            return $"{what} is a fraction above 1, which Ray rejects (fractions are allowed only up to 1); use a whole number such as {Format(Math.Floor(amount))} or {Format(Math.Ceiling(amount))}";
        }

        return null;
    }

    private static Location? ElementLocation(AttributeArgumentSyntax? argument, int index, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ExpressionSyntax? element = argument?.Expression switch
        {
            ArrayCreationExpressionSyntax { Initializer: { } init } when index < init.Expressions.Count => init.Expressions[index],
            ImplicitArrayCreationExpressionSyntax { Initializer: var init } when index < init.Expressions.Count => init.Expressions[index],
            CollectionExpressionSyntax collection when index < collection.Elements.Count &&
                collection.Elements[index] is ExpressionElementSyntax expressionElement => expressionElement.Expression,
            _ => null,
        };

        return element?.GetLocation();
    }

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static void Report(SymbolAnalysisContext context, Location location, string owner, string problem) =>
        context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.InvalidResourceRequest, location, owner, problem));
}
