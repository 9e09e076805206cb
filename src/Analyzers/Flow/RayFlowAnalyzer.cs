using Microsoft.CodeAnalysis.Diagnostics;

namespace RaySharp.Analyzers.Flow;

/// <summary>
/// Base of the analyzers that follow refs through method bodies (RAY010-RAY107): they run concurrently,
/// skip generated code (the proxies themselves), and register their actions only in compilations that
/// reference RaySharp, with the API's symbols resolved once.
/// </summary>
public abstract class RayFlowAnalyzer : DiagnosticAnalyzer
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
