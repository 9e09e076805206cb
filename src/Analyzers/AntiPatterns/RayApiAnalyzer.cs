using Microsoft.CodeAnalysis.Diagnostics;

namespace RaySharp.Analyzers.AntiPatterns;

/// <summary>
/// Base of the anti-pattern analyzers: they run concurrently, skip generated code (the proxies are right by
/// construction), and register their actions only in compilations that reference RaySharp.
/// </summary>
public abstract class RayApiAnalyzer : DiagnosticAnalyzer
{
    public sealed override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.RegisterCompilationStartAction(start =>
        {
            if (RayApi.TryCreate(start.Compilation) is { } api)
            {
                Register(start, api);
            }
        });
    }

    /// <summary>Registers the analyzer's actions for one compilation that references RaySharp.</summary>
    private protected abstract void Register(CompilationStartAnalysisContext context, RayApi api);
}
