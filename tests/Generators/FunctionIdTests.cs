using System.Globalization;
using System.Text.RegularExpressions;
using RaySharp.Internal;

namespace RaySharp.Generators.Tests;

/// <summary>Function IDs are computed at compile time and must equal what the runtime computes from the signature.</summary>
public sealed partial class FunctionIdTests
{
    [Theory]
    [InlineData("")]
    [InlineData("MyApp.MathTasks.Add(int,int)")]
    [InlineData("MyApp.Counter..ctor(int,string)")]
    [InlineData("Ünïcødé.Типы.関数(string)")]
    [InlineData("surrogates 😀 \uD83D")]
    public void GeneratorHashEqualsRuntimeHash(string signature) =>
        Assert.Equal(FunctionIds.Compute(signature), FunctionIdHash.Compute(signature));

    [Fact]
    public void EmptySignatureHashesToTheFnvOffsetBasis() =>
        Assert.Equal(14695981039346656037UL, FunctionIds.Compute(""));

    [Fact]
    public void EmittedIdsEqualTheRuntimeComputationOfTheEmittedSignatures()
    {
        var (result, _) = GeneratorHarness.Run("""
            using RaySharp;
            namespace MyApp;
            public static partial class MathTasks
            {
                [RayRemote]
                public static int Add(int a, int b) => a + b;

                [RayRemote]
                public static double Add(double a, double b) => a + b;

                [RayRemote]
                public static int Sub(int a, int b) => a - b;

                [RayRemote(Name = "add_renamed")]
                public static long Add(long a, long b) => a + b;
            }
            [RayRemote]
            public partial class Counter
            {
                public Counter(int start) { }
                public int Add(int a, int b) => a + b;
            }
            [RayRemote(Name = "Stable.Name")]
            public partial class RenamedActor
            {
                [RayMethod(Name = "get")]
                public int Get() => 1;
            }
            """);

        var descriptors = result.Results.Single().GeneratedSources
            .SelectMany(s => DescriptorPattern().Matches(s.SourceText.ToString()))
            .Select(m => (Id: ulong.Parse(m.Groups["id"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture), Signature: m.Groups["sig"].Value))
            .ToList();

        Assert.Equal(
            [
                "MyApp.Counter..ctor(int)",
                "MyApp.Counter.Add(int,int)",
                "MyApp.MathTasks.Add(double,double)",
                "MyApp.MathTasks.Add(int,int)",
                "MyApp.MathTasks.Sub(int,int)",
                "MyApp.MathTasks.add_renamed(long,long)",
                "Stable.Name..ctor()",
                "Stable.Name.get()",
            ],
            descriptors.Select(d => d.Signature).Order(StringComparer.Ordinal));
        Assert.All(descriptors, d => Assert.Equal(FunctionIds.Compute(d.Signature), d.Id));
        Assert.Equal(descriptors.Count, descriptors.Select(d => d.Id).Distinct().Count());
        Assert.Contains("Name = \"Stable.Name\",", result.Results.Single().GeneratedSources.Single(s => s.HintName == "RenamedActor.RaySharp.g.cs").SourceText.ToString());
    }

    [GeneratedRegex("""FunctionId = 0x(?<id>[0-9a-f]{16})UL,\s*Signature = "(?<sig>[^"]*)",""")]
    private static partial Regex DescriptorPattern();
}
