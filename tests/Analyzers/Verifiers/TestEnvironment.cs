using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Testing;

namespace RaySharp.Analyzers.Tests.Verifiers;

/// <summary>What every test compilation is built against: .NET 10, RaySharp.Runtime and MemoryPack.Core.</summary>
internal static class TestEnvironment
{
    /// <summary>
    /// The testing library (1.1.4) predefines nothing newer than .NET 9, so name the .NET 10 reference pack
    /// directly. The test project's PackageDownload of the same version puts it in the NuGet cache at restore.
    /// </summary>
    public static readonly ReferenceAssemblies Net10 = new(
        "net10.0",
        new PackageIdentity("Microsoft.NETCore.App.Ref", "10.0.10"),
        Path.Combine("ref", "net10.0"));

    public static readonly MetadataReference[] RaySharpReferences =
    [
        MetadataReference.CreateFromFile(typeof(RayRemoteAttribute).Assembly.Location),
        MetadataReference.CreateFromFile(typeof(MemoryPack.MemoryPackableAttribute).Assembly.Location),
    ];

    /// <summary>Usings every snippet gets, so snippets show only what they are about.</summary>
    public const string GlobalUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Threading;
        global using System.Threading.Tasks;
        global using MemoryPack;
        global using RaySharp;
        """;

    public static void Configure(SolutionState state)
    {
        state.AdditionalReferences.AddRange(RaySharpReferences);
        state.Sources.Add(("GlobalUsings.cs", GlobalUsings));
    }
}
