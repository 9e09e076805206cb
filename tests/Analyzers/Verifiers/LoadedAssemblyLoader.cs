using System.Reflection;
using Microsoft.CodeAnalysis;

namespace RaySharp.Analyzers.Tests.Verifiers;

/// <summary>Loads generator assemblies for a workspace or driver from their path (the test process may already hold them).</summary>
internal sealed class LoadedAssemblyLoader : IAnalyzerAssemblyLoader
{
    public static readonly LoadedAssemblyLoader Instance = new();

    public void AddDependencyLocation(string fullPath)
    {
    }

    public Assembly LoadFromPath(string fullPath) => Assembly.LoadFrom(fullPath);
}
