using Xunit;
using Verify = RaySharp.Analyzers.Tests.Verifiers.AnalyzerVerifier<RaySharp.Analyzers.ResourceRequestAnalyzer>;

namespace RaySharp.Analyzers.Tests;

public class ResourceRequestTests
{
    // ---- raises RAY005 ----

    [Fact]
    public Task Fraction_above_one() => Verify.VerifyAsync("""
        public static partial class Jobs
        {
            [RayRemote({|#0:NumCpus = 1.5|})]
            public static int Work() => 0;
        }
        """,
        Verify.Diagnostic("RAY005").WithLocation(0).WithMessage(
            "Invalid resource request on 'Jobs.Work': NumCpus = 1.5 is a fraction above 1, which Ray rejects (fractions are allowed only up to 1); use a whole number such as 1 or 2"));

    [Fact]
    public Task Negative_amounts() => Verify.VerifyAsync("""
        public static partial class Jobs
        {
            [RayRemote({|#0:NumGpus = -1|}, {|RAY005:Memory = -1024|})]
            public static int Train() => 0;
        }

        [RayRemote({|RAY005:NumCpus = 2.25|})]
        public partial class Trainer
        {
            public int Step() => 0;
        }
        """,
        Verify.Diagnostic("RAY005").WithLocation(0).WithMessage(
            "Invalid resource request on 'Jobs.Train': NumGpus = -1 is negative; request 0 or more GPUs"));

    [Fact]
    public Task Malformed_custom_resources() => Verify.VerifyAsync("""
        public static partial class Jobs
        {
            [RayRemote(Resources = new[] { "ssd=1", {|#0:"accelerator"|}, {|RAY005:"=1"|}, {|#1:"tpu=lots"|}, {|RAY005:"disk=-2"|} })]
            public static int Work() => 0;
        }
        """,
        Verify.Diagnostic("RAY005").WithLocation(0).WithMessage(
            "Invalid resource request on 'Jobs.Work': Resources entry \"accelerator\" has no '='; write it as \"name=amount\", e.g. \"accelerator=1\""),
        Verify.Diagnostic("RAY005").WithLocation(1).WithMessage(
            "Invalid resource request on 'Jobs.Work': Resources entry \"tpu=lots\" has amount \"lots\", which is not a number; write it as \"tpu=1\" or \"tpu=0.5\""));

    [Fact]
    public Task Custom_resources_in_a_collection_expression_built_in_names_and_duplicates() => Verify.VerifyAsync("""
        [RayRemote(Resources = [{|RAY005:"gpu_a100=2.5"|}, {|RAY005:"CPU=1"|}, "ssd=1", {|RAY005:"ssd=2"|}])]
        public partial class Trainer
        {
            public int Step() => 0;
        }
        """);

    // ---- close look-alikes that must stay silent ----

    [Fact]
    public Task Fractions_up_to_one_and_whole_numbers_are_fine() => Verify.VerifyAsync("""
        public static partial class Jobs
        {
            [RayRemote(NumCpus = 0.5, NumGpus = 2, Memory = 1L << 30)]
            public static int A() => 0;

            [RayRemote(NumCpus = 0, NumGpus = 1.0, Memory = 0)]
            public static int B() => 0;

            [RayRemote(NumCpus = 3.0, NumGpus = 0.25)]
            public static int C() => 0;
        }
        """);

    [Fact]
    public Task Well_formed_custom_resources_are_fine() => Verify.VerifyAsync("""
        [RayRemote(Resources = new[] { "ssd=1", " tpu = 4 ", "accelerator_type:A100=0.25", "bandwidth=1e3", "idle=0" })]
        public partial class Trainer
        {
            [RayRemote(Resources = new string[0])]
            public static int Step() => 0;
        }
        """);

    [Fact]
    public Task Other_attributes_with_the_same_property_names_are_ignored() => Verify.VerifyAsync("""
        namespace Other
        {
            [AttributeUsage(AttributeTargets.All)]
            public sealed class RayRemoteAttribute : Attribute
            {
                public double NumCpus { get; set; }
                public string[]? Resources { get; set; }
            }

            public static class Jobs
            {
                [Other.RayRemote(NumCpus = 1.5, Resources = new[] { "broken" })]
                public static int Work() => 0;
            }
        }
        """);
}
