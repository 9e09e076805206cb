using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using RaySharp.Analyzers.Model;

namespace RaySharp.Analyzers;

/// <summary>
/// Base of the analyzers that look at each type declaring [RayRemote] members: they run only when the
/// compilation references RaySharp, skip generated code, and see each remote type once with its model.
/// </summary>
public abstract class RemoteTypeAnalyzer : DiagnosticAnalyzer
{
    public sealed override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.RegisterCompilationStartAction(start =>
        {
            if (RaySymbols.TryCreate(start.Compilation) is { } symbols)
            {
                start.RegisterSymbolAction(c =>
                {
                    var type = (INamedTypeSymbol)c.Symbol;
                    if (RemoteType.TryCreate(type, symbols) is { } remote)
                    {
                        AnalyzeRemoteType(c, type, remote, symbols);
                    }
                }, SymbolKind.NamedType);
            }
        });
    }

    /// <summary>Analyzes one type that declares [RayRemote] members (or is an actor class).</summary>
    private protected abstract void AnalyzeRemoteType(SymbolAnalysisContext context, INamedTypeSymbol type, RemoteType remote, RaySymbols symbols);
}
