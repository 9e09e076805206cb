using System.Text.RegularExpressions;
using Xunit;

namespace MyApp.Tests;

/// <summary>docs/testing.md shows this project's code: each of its C# blocks must be a piece of one of these files, so
/// that the page cannot drift from code that compiles and passes.</summary>
public sealed partial class DocsTests
{
    [Fact]
    public void Every_csharp_block_of_the_testing_page_is_quoted_from_this_project()
    {
        string root = RepositoryRoot();
        string page = File.ReadAllText(Path.Combine(root, "docs", "testing.md"));
        var sources = Directory.GetFiles(Path.Combine(root, "tests", "Testing.Examples"), "*.cs")
            .Select(f => Normalize(File.ReadAllText(f))).ToList();

        var blocks = CsharpBlock().Matches(page).Select(m => m.Groups[1].Value).ToList();

        Assert.NotEmpty(blocks);
        Assert.All(blocks, block => Assert.True(sources.Any(s => s.Contains(Normalize(block), StringComparison.Ordinal)),
            $"docs/testing.md shows code that no file of tests/Testing.Examples has:\n{block}"));
    }

    private static string Normalize(string code) => string.Join('\n', code.ReplaceLineEndings("\n").Split('\n').Select(l => l.TrimEnd())).Trim();

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "RaySharp.sln"))) return dir.FullName;
        throw new InvalidOperationException($"No RaySharp.sln above {AppContext.BaseDirectory}.");
    }

    [GeneratedRegex(@"```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CsharpBlock();
}
