using System.Collections.Immutable;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using RaySharp.Analyzers.AntiPatterns;
using RaySharp.Analyzers.Tests.Verifiers;
using RaySharp.Generators;
using Xunit;

namespace RaySharp.Analyzers.Tests;

/// <summary>
/// Every RaySharp analyzer over code that is right by construction: the repository's own samples and the
/// runtime's source. A RaySharp diagnostic there is a false positive, to be fixed in the rule.
/// </summary>
public class RepositoryCodeTests
{
    // What the SDK's ImplicitUsings gives the runtime and the samples.
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    private static readonly string RepoRoot = FindRepoRoot();

    [Fact]
    public async Task The_quickstart_sample_raises_nothing()
    {
        var references = (await FrameworkReferencesAsync()).AddRange(TestEnvironment.RaySharpReferences)
            .Add(MetadataReference.CreateFromFile(typeof(Microsoft.Extensions.Logging.ILogger).Assembly.Location));
        Compilation compilation = Compile("Quickstart", OutputKind.ConsoleApplication, SourcesUnder("samples/Quickstart"), references);
        compilation = RunGenerators(compilation, new RayRemoteGenerator().AsSourceGenerator());

        await AssertNoRaySharpDiagnosticsAsync(compilation);
    }

    [Fact]
    public async Task The_runtime_source_raises_nothing()
    {
        var references = (await FrameworkReferencesAsync())
            .Add(MetadataReference.CreateFromFile(typeof(MemoryPack.MemoryPackableAttribute).Assembly.Location))
            .Add(MetadataReference.CreateFromFile(typeof(Microsoft.Extensions.Logging.ILogger).Assembly.Location));
        references = references.AddRange(ClusterRuntimeReferences(references));
        // src/Common holds the files the runtime shares with the generator and the analyzers (linked in its csproj).
        var sources = SourcesUnder("src/Runtime").Concat(SourcesUnder("src/Common"));
        Compilation compilation = Compile("RaySharp.Runtime", OutputKind.DynamicallyLinkedLibrary, sources, references);
        compilation = RunGenerators(compilation, [.. LoadMemoryPackGenerators(), .. LoadLoggingGenerators()]);

        await AssertNoRaySharpDiagnosticsAsync(compilation);
    }

    /// <summary>The [LoggerMessage] generator the runtime's build runs: it ships with the ASP.NET Core targeting pack
    /// of the SDK that runs this test.</summary>
    private static ISourceGenerator[] LoadLoggingGenerators()
    {
        string dotnetRoot = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "..", "..", ".."));
        string packs = Path.Combine(dotnetRoot, "packs", "Microsoft.AspNetCore.App.Ref");
        string prefix = $"{Environment.Version.Major}.{Environment.Version.Minor}.";
        var path = Directory.Exists(packs)
            ? Directory.EnumerateDirectories(packs).Where(d => Path.GetFileName(d).StartsWith(prefix, StringComparison.Ordinal))
                .Select(d => Path.Combine(d, "analyzers", "dotnet", "cs", "Microsoft.Extensions.Logging.Generators.dll"))
                .Where(File.Exists).OrderBy(f => f, StringComparer.Ordinal).LastOrDefault()
            : null;
        Assert.True(path is not null, $"The [LoggerMessage] generator was not found under {packs} for .NET {prefix}x.");
        return new AnalyzerFileReference(path, LoadedAssemblyLoader.Instance).GetGeneratorsForAllLanguages().ToArray();
    }

    /// <summary>What the cluster runtime's RPC layer and GCS storage compile against: gRPC and the Redis client (copied
    /// next to the runtime) and the ASP.NET Core shared framework (Kestrel), skipping assemblies already referenced.</summary>
    private static IEnumerable<MetadataReference> ClusterRuntimeReferences(ImmutableArray<MetadataReference> existing)
    {
        var have = existing.Select(r => Path.GetFileName(r.Display ?? "")).ToHashSet(StringComparer.OrdinalIgnoreCase);
        string runtimeDir = Path.GetDirectoryName(typeof(RayRemoteAttribute).Assembly.Location)!;
        var grpc = Directory.EnumerateFiles(runtimeDir, "Grpc.*.dll")
            .Concat(Directory.EnumerateFiles(runtimeDir, "StackExchange.Redis.dll"))
            .Concat(Directory.EnumerateFiles(runtimeDir, "Pipelines.Sockets.Unofficial.dll"));
        string netCoreDir = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        string aspNetRoot = Path.GetFullPath(Path.Combine(netCoreDir, "..", "..", "Microsoft.AspNetCore.App"));
        string aspNetDir = Directory.EnumerateDirectories(aspNetRoot).OrderBy(d => d, StringComparer.Ordinal).Last();
        var aspNet = Directory.EnumerateFiles(aspNetDir, "*.dll");
        foreach (var path in grpc.Concat(aspNet))
            if (have.Add(Path.GetFileName(path))) yield return MetadataReference.CreateFromFile(path);
    }

    [Fact]
    public void Every_analyzer_in_the_assembly_is_run()
    {
        var ids = AllAnalyzers().SelectMany(SupportedIds).ToHashSet();
        Assert.Contains("RAY001", ids);
        Assert.Contains("RAY007", ids);
        Assert.Contains("RAY013", ids);
        Assert.Contains("RAY114", ids);
        Assert.Contains("RAYSP001", ids);
    }

    private static async Task AssertNoRaySharpDiagnosticsAsync(Compilation compilation)
    {
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, "The compilation must build for the check to mean anything:\n" + string.Join("\n", errors.Take(20)));

        var withAnalyzers = compilation.WithAnalyzers(AllAnalyzers());
        var diagnostics = await withAnalyzers.GetAnalyzerDiagnosticsAsync();
        var raySharp = diagnostics.Where(d => d.Id.StartsWith("RAY", StringComparison.Ordinal)).ToList();
        Assert.True(raySharp.Count == 0, "False positives:\n" + string.Join("\n", raySharp));
    }

    /// <summary>Every analyzer and suppressor RaySharp ships, found the way the compiler finds them.</summary>
    private static ImmutableArray<DiagnosticAnalyzer> AllAnalyzers() =>
        typeof(BlockingGetAnalyzer).Assembly.GetTypes()
            .Where(t => !t.IsAbstract && typeof(DiagnosticAnalyzer).IsAssignableFrom(t) && t.GetConstructor(Type.EmptyTypes) is not null)
            .Where(t => t.GetCustomAttributes(typeof(DiagnosticAnalyzerAttribute), inherit: false).Length > 0)
            .Select(t => (DiagnosticAnalyzer)Activator.CreateInstance(t)!)
            .ToImmutableArray();

    private static IEnumerable<string> SupportedIds(DiagnosticAnalyzer analyzer) => analyzer is DiagnosticSuppressor suppressor
        ? suppressor.SupportedSuppressions.Select(s => s.Id)
        : analyzer.SupportedDiagnostics.Select(d => d.Id);

    private static CSharpCompilation Compile(string assemblyName, OutputKind kind, IEnumerable<(string Path, string Text)> sources, ImmutableArray<MetadataReference> references)
    {
        var parse = new CSharpParseOptions(LanguageVersion.Preview, preprocessorSymbols: Net10PreprocessorSymbols());
        var trees = sources.Select(s => CSharpSyntaxTree.ParseText(s.Text, parse, s.Path))
            .Append(CSharpSyntaxTree.ParseText(ImplicitUsings, parse, "ImplicitUsings.g.cs"));
        return CSharpCompilation.Create(
            assemblyName,
            trees,
            references,
            new CSharpCompilationOptions(kind, nullableContextOptions: NullableContextOptions.Enable, allowUnsafe: true));
    }

    /// <summary>The symbols the SDK defines for net10.0; MemoryPack's generator picks its code shape by them.</summary>
    private static IEnumerable<string> Net10PreprocessorSymbols() =>
        new[] { "NET", "NETCOREAPP", "NET10_0", "RELEASE" }
            .Concat(new[] { "1_0", "1_1", "2_0", "2_1", "2_2", "3_0", "3_1" }.Select(v => $"NETCOREAPP{v}_OR_GREATER"))
            .Concat(Enumerable.Range(5, 6).Select(v => $"NET{v}_0_OR_GREATER"));

    private static Compilation RunGenerators(Compilation compilation, params ISourceGenerator[] generators)
    {
        CSharpGeneratorDriver
            .Create(generators, parseOptions: (CSharpParseOptions)compilation.SyntaxTrees.First().Options)
            .RunGeneratorsAndUpdateCompilation(compilation, out var updated, out _);
        return updated;
    }

    private static IEnumerable<(string Path, string Text)> SourcesUnder(string relative)
    {
        var root = Path.Combine(RepoRoot, relative);
        var excluded = new[] { Path.DirectorySeparatorChar + "obj" + Path.DirectorySeparatorChar, Path.DirectorySeparatorChar + "bin" + Path.DirectorySeparatorChar };
        var files = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !excluded.Any(e => f.Substring(root.Length).Contains(e, StringComparison.Ordinal)))
            .OrderBy(f => f, StringComparer.Ordinal)
            .ToList();
        Assert.NotEmpty(files);
        return files.Select(f => (f, File.ReadAllText(f)));
    }

    private static async Task<ImmutableArray<MetadataReference>> FrameworkReferencesAsync() =>
        await TestEnvironment.Net10.ResolveAsync(LanguageNames.CSharp, CancellationToken.None);

    /// <summary>MemoryPack's generator, from the NuGet cache, at the version the repository pins.</summary>
    private static ISourceGenerator[] LoadMemoryPackGenerators()
    {
        var props = File.ReadAllText(Path.Combine(RepoRoot, "Directory.Packages.props"));
        var version = Regex.Match(props, "Include=\"MemoryPack\" Version=\"([^\"]+)\"").Groups[1].Value;
        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var path = Path.Combine(packages, "memorypack.generator", version, "analyzers", "dotnet", "cs", "MemoryPack.Generator.dll");
        Assert.True(File.Exists(path), $"MemoryPack's generator was not found at {path}; restore the runtime project first.");

        var reference = new AnalyzerFileReference(path, LoadedAssemblyLoader.Instance);
        return reference.GetGeneratorsForAllLanguages().ToArray();
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "RaySharp.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("RaySharp.sln not found above " + AppContext.BaseDirectory);
    }
}
