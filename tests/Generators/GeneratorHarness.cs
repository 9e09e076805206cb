using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace RaySharp.Generators.Tests;

/// <summary>Builds compilations against the real RaySharp runtime and runs the generator on them.</summary>
internal static class GeneratorHarness
{
    public static readonly CSharpParseOptions ParseOptions =
        new(LanguageVersion.Latest, DocumentationMode.Diagnose);

    private static readonly CSharpCompilationOptions s_options = new(
        OutputKind.DynamicallyLinkedLibrary,
        nullableContextOptions: NullableContextOptions.Enable,
        warningLevel: 9999,
        deterministic: true);

    private static readonly Lazy<ImmutableArray<MetadataReference>> s_references = new(LoadReferences);

    /// <summary>The framework's assemblies (the ones this test process runs on), RaySharp.Runtime and MemoryPack.</summary>
    public static ImmutableArray<MetadataReference> References => s_references.Value;

    private static ImmutableArray<MetadataReference> LoadReferences()
    {
        string frameworkDir = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var tpa = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        var paths = tpa
            .Where(p => string.Equals(Path.GetDirectoryName(p), frameworkDir, StringComparison.Ordinal))
            .Append(typeof(ObjectRef).Assembly.Location)
            .Append(typeof(MemoryPack.MemoryPackSerializer).Assembly.Location)
            .Distinct(StringComparer.Ordinal);
        return [.. paths.Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))];
    }

    public static CSharpCompilation CreateCompilation(params string[] sources) =>
        CSharpCompilation.Create(
            "UserAssembly",
            sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, ParseOptions, path: $"Source{i}.cs")),
            References,
            s_options);

    public static GeneratorDriver CreateDriver(bool trackSteps = false) =>
        CSharpGeneratorDriver.Create(
            [new RayRemoteGenerator().AsSourceGenerator()],
            parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: trackSteps));

    /// <summary>Runs the generator on <paramref name="sources"/>; asserts it reported nothing and did not throw.</summary>
    public static (GeneratorDriverRunResult Result, Compilation Output) Run(params string[] sources)
    {
        var compilation = CreateCompilation(sources);
        var driver = CreateDriver().RunGeneratorsAndUpdateCompilation(compilation, out var output, out var generatorDiagnostics);
        var result = driver.GetRunResult();
        AssertNoGeneratorFailures(result);
        Assert.Empty(generatorDiagnostics);
        return (result, output);
    }

    public static void AssertNoGeneratorFailures(GeneratorDriverRunResult result)
    {
        Assert.All(result.Results, r => Assert.Null(r.Exception));
        Assert.Empty(result.Diagnostics);
    }

    /// <summary>Asserts that the user code plus the generated code compiles with no error and no warning, and emits.</summary>
    public static void AssertCompilesCleanly(Compilation output)
    {
        // Documentation comments are checked (DocumentationMode.Diagnose) to catch bad crefs in generated code; the
        // test inputs themselves carry no docs, so missing-doc warnings are only counted in generated files.
        var problems = output.GetDiagnostics()
            .Where(d => d.Severity >= DiagnosticSeverity.Warning)
            .Where(d => !(d.Id == "CS1591" && IsUserTree(d.Location.SourceTree)))
            .ToList();
        Assert.True(problems.Count == 0, "The generated code does not compile cleanly:\n" + Describe(output, problems));

        using var stream = new MemoryStream();
        var emit = output.Emit(stream);
        Assert.True(emit.Success, "Emit failed:\n" + Describe(output, emit.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)));
    }

    private static bool IsUserTree(SyntaxTree? tree) =>
        tree is not null && !tree.FilePath.EndsWith(".g.cs", StringComparison.Ordinal);

    private static string Describe(Compilation output, IEnumerable<Diagnostic> diagnostics) =>
        string.Join("\n", diagnostics.Select(d =>
        {
            string line = d.Location.IsInSource
                ? d.Location.SourceTree!.GetText().Lines[d.Location.GetLineSpan().StartLinePosition.Line].ToString().Trim()
                : "";
            return $"{d}\n    {line}";
        }));
}
