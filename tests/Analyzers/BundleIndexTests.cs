using Xunit;
using Verify = RaySharp.Analyzers.Tests.Verifiers.AnalyzerVerifier<RaySharp.Analyzers.BundleIndexAnalyzer>;
using VerifyFix = RaySharp.Analyzers.Tests.Verifiers.CodeFixVerifier<RaySharp.Analyzers.BundleIndexAnalyzer, RaySharp.Analyzers.CodeFixes.AnyBundleCodeFixProvider>;

namespace RaySharp.Analyzers.Tests;

public class BundleIndexTests
{
    // ---- raises RAY007 ----

    [Fact]
    public Task Index_at_the_bundle_count_of_a_collection_expression() => Verify.VerifyAsync("""
        public static class Driver
        {
            public static SchedulingStrategy Pick()
            {
                var pg = Ray.CreatePlacementGroup([new Dictionary<string, double> { ["CPU"] = 1 }, new Dictionary<string, double> { ["GPU"] = 1 }]);
                return new PlacementGroupSchedulingStrategy(pg, {|#0:2|});
            }
        }
        """,
        Verify.Diagnostic("RAY007").WithLocation(0).WithMessage(
            "Bundle index 2 is out of range: placement group 'pg' has 2 bundles; use an index below 2, or -1 for any bundle"));

    [Fact]
    public Task Named_arguments_arrays_and_a_target_typed_new() => Verify.VerifyAsync("""
        public static class Driver
        {
            public static void Place(IReadOnlyDictionary<string, double> cpu)
            {
                var spread = Ray.CreatePlacementGroup(strategy: PlacementStrategy.Spread, bundles: new[] { cpu, cpu, cpu });
                var first = new PlacementGroupSchedulingStrategy(bundleIndex: {|#0:3|}, pg: spread, captureChildTasks: true);

                var pair = Ray.CreatePlacementGroup(new IReadOnlyDictionary<string, double>[] { cpu, cpu }, name: "pair");
                PlacementGroupSchedulingStrategy second = new(pair, {|#1:7|});
            }
        }
        """,
        Verify.Diagnostic("RAY007").WithLocation(0).WithMessage(
            "Bundle index 3 is out of range: placement group 'spread' has 3 bundles; use an index below 3, or -1 for any bundle"),
        Verify.Diagnostic("RAY007").WithLocation(1).WithMessage(
            "Bundle index 7 is out of range: placement group 'pair' has 2 bundles; use an index below 2, or -1 for any bundle"));

    [Fact]
    public Task Bundle_lists_in_locals_assigned_once_and_only_read() => Verify.VerifyAsync("""
        public static class Driver
        {
            private const int Last = 1;

            public static void Place(IReadOnlyDictionary<string, double> cpu, IReadOnlyDictionary<string, double> gpu)
            {
                var one = new List<IReadOnlyDictionary<string, double>> { cpu };
                foreach (var bundle in one) Console.WriteLine(bundle.Count);
                var single = Ray.CreatePlacementGroup(one);
                _ = new PlacementGroupSchedulingStrategy(single, {|#0:Last|});
                Console.WriteLine(one.Count + one[0].Count);

                // An array's elements may change, its length may not.
                IReadOnlyDictionary<string, double>[] two = [cpu, gpu];
                two[1] = cpu;
                var pair = Ray.CreatePlacementGroup(two, PlacementStrategy.StrictPack);
                _ = new PlacementGroupSchedulingStrategy(pair, {|RAY007:2|});

                IReadOnlyList<IReadOnlyDictionary<string, double>> three = new List<IReadOnlyDictionary<string, double>>(3) { cpu, cpu, gpu };
                _ = new PlacementGroupSchedulingStrategy(Ray.CreatePlacementGroup(three), 3);
                var trio = Ray.CreatePlacementGroup(bundles: three);
                _ = new PlacementGroupSchedulingStrategy(trio, {|RAY007:3|});
            }
        }
        """,
        Verify.Diagnostic("RAY007").WithLocation(0).WithMessage(
            "Bundle index 1 is out of range: placement group 'single' has 1 bundle; use index 0, or -1 for any bundle"));

    [Fact]
    public Task Group_assigned_once_and_used_in_a_lambda_or_local_function() => Verify.VerifyAsync("""
        public static class Driver
        {
            public static Func<SchedulingStrategy> Place(IReadOnlyDictionary<string, double> cpu)
            {
                PlacementGroup pg;
                pg = Ray.CreatePlacementGroup([cpu, cpu]);
                Console.WriteLine(Local().BundleIndex);
                return () => new PlacementGroupSchedulingStrategy(pg, {|RAY007:5|});

                PlacementGroupSchedulingStrategy Local() => new(pg, bundleIndex: {|RAY007:2|});
            }

            public static Action InLambda(IReadOnlyDictionary<string, double> cpu) => () =>
            {
                var inner = Ray.CreatePlacementGroup([cpu]);
                _ = new PlacementGroupSchedulingStrategy(inner, {|RAY007:1|});
            };
        }
        """);

    [Fact]
    public Task Negative_index_other_than_minus_one_for_any_group() => Verify.VerifyAsync("""
        public static class Driver
        {
            private const int Invalid = -5;

            public static void Place(PlacementGroup pg)
            {
                _ = new PlacementGroupSchedulingStrategy(pg, {|#0:-2|});
                _ = new PlacementGroupSchedulingStrategy(Ray.GetPlacementGroup("shared"), bundleIndex: {|#1:Invalid|});
                _ = new PlacementGroupSchedulingStrategy(pg, {|RAY007:int.MinValue|}, captureChildTasks: true);
            }
        }
        """,
        Verify.Diagnostic("RAY007").WithLocation(0).WithMessage(
            "Bundle index -2 is invalid: use -1 for any bundle or an index of a bundle"),
        Verify.Diagnostic("RAY007").WithLocation(1).WithMessage(
            "Bundle index -5 is invalid: use -1 for any bundle or an index of a bundle"));

    [Fact]
    public Task Object_initializers_set_the_index_and_the_group_last() => Verify.VerifyAsync("""
        public static class Driver
        {
            public static void Place(IReadOnlyDictionary<string, double> cpu)
            {
                var pg = Ray.CreatePlacementGroup([cpu, cpu]);
                var single = Ray.CreatePlacementGroup([cpu]);

                _ = new PlacementGroupSchedulingStrategy(pg) { BundleIndex = {|#0:2|} };
                _ = new PlacementGroupSchedulingStrategy(pg, 1) { PlacementGroup = single, BundleIndex = {|RAY007:-3|} };
                _ = new PlacementGroupSchedulingStrategy(pg, {|RAY007:1|}) { PlacementGroup = single };

                // The initializer's index is the one that counts; the constructor's 5 is overwritten.
                _ = new PlacementGroupSchedulingStrategy(pg, 5) { BundleIndex = 0 };
            }
        }
        """,
        Verify.Diagnostic("RAY007").WithLocation(0).WithMessage(
            "Bundle index 2 is out of range: placement group 'pg' has 2 bundles; use an index below 2, or -1 for any bundle"));

    // ---- close look-alikes that must stay silent ----

    [Fact]
    public Task Indexes_in_range_minus_one_and_the_default_are_fine() => Verify.VerifyAsync("""
        public static class Driver
        {
            public static void Place(IReadOnlyDictionary<string, double> cpu)
            {
                var pg = Ray.CreatePlacementGroup([cpu, cpu, cpu]);
                _ = new PlacementGroupSchedulingStrategy(pg);
                _ = new PlacementGroupSchedulingStrategy(pg, -1);
                _ = new PlacementGroupSchedulingStrategy(pg, 0);
                _ = new PlacementGroupSchedulingStrategy(pg, bundleIndex: 2, captureChildTasks: true);
                _ = new PlacementGroupSchedulingStrategy(pg, captureChildTasks: true);
                _ = new PlacementGroupSchedulingStrategy(pg) { BundleIndex = 1 };
            }
        }
        """);

    [Fact]
    public Task Indexes_that_are_not_constants_are_not_checked() => Verify.VerifyAsync("""
        public static class Driver
        {
            public static void Place(IReadOnlyDictionary<string, double> cpu, int requested)
            {
                var pg = Ray.CreatePlacementGroup([cpu]);
                int five = 5;
                _ = new PlacementGroupSchedulingStrategy(pg, five);
                _ = new PlacementGroupSchedulingStrategy(pg, requested);
                _ = new PlacementGroupSchedulingStrategy(pg, pg.Bundles.Count);
                _ = new PlacementGroupSchedulingStrategy(pg, -requested - 2);
            }
        }
        """);

    [Fact]
    public Task Groups_of_unknown_length_are_not_checked() => Verify.VerifyAsync("""
        using System.Linq;

        public static class Driver
        {
            public static void Place(IReadOnlyDictionary<string, double> cpu, IReadOnlyList<IReadOnlyDictionary<string, double>> more)
            {
                var spread = Ray.CreatePlacementGroup([cpu, .. more]);
                _ = new PlacementGroupSchedulingStrategy(spread, 1);

                var given = Ray.CreatePlacementGroup(more);
                _ = new PlacementGroupSchedulingStrategy(given, 4);

                var repeated = Ray.CreatePlacementGroup(Enumerable.Repeat(cpu, 4).ToList());
                _ = new PlacementGroupSchedulingStrategy(repeated, 3);

                var copied = Ray.CreatePlacementGroup(new List<IReadOnlyDictionary<string, double>>(more) { cpu });
                _ = new PlacementGroupSchedulingStrategy(copied, 2);

                var sized = Ray.CreatePlacementGroup(new IReadOnlyDictionary<string, double>[more.Count]);
                _ = new PlacementGroupSchedulingStrategy(sized, 2);

                // An empty group is refused when it is created; its index is not the mistake to report.
                var empty = Ray.CreatePlacementGroup([]);
                _ = new PlacementGroupSchedulingStrategy(empty, 0);
            }
        }
        """);

    [Fact]
    public Task Bundle_lists_that_change_or_escape_are_not_counted() => Verify.VerifyAsync("""
        public static class Driver
        {
            public static void Place(IReadOnlyDictionary<string, double> cpu, bool large)
            {
                var grown = new List<IReadOnlyDictionary<string, double>> { cpu };
                if (large) grown.Add(cpu);
                _ = new PlacementGroupSchedulingStrategy(Ray.CreatePlacementGroup(grown), 0);
                var a = Ray.CreatePlacementGroup(grown);
                _ = new PlacementGroupSchedulingStrategy(a, 1);

                var later = new List<IReadOnlyDictionary<string, double>> { cpu };
                var b = Ray.CreatePlacementGroup(later);
                later.Add(cpu);
                _ = new PlacementGroupSchedulingStrategy(b, 1);

                var handedOn = new List<IReadOnlyDictionary<string, double>> { cpu };
                Fill(handedOn);
                var c = Ray.CreatePlacementGroup(handedOn);
                _ = new PlacementGroupSchedulingStrategy(c, 1);

                IReadOnlyDictionary<string, double>[] replaced = [cpu];
                if (large) replaced = [cpu, cpu, cpu];
                var d = Ray.CreatePlacementGroup(replaced);
                _ = new PlacementGroupSchedulingStrategy(d, 2);

                IReadOnlyDictionary<string, double>[] resized = [cpu];
                Array.Resize(ref resized, 4);
                var e = Ray.CreatePlacementGroup(resized);
                _ = new PlacementGroupSchedulingStrategy(e, 3);

                IReadOnlyList<IReadOnlyDictionary<string, double>> cast = new List<IReadOnlyDictionary<string, double>> { cpu };
                ((List<IReadOnlyDictionary<string, double>>)cast).Add(cpu);
                var f = Ray.CreatePlacementGroup(cast);
                _ = new PlacementGroupSchedulingStrategy(f, 1);
            }

            private static void Fill(List<IReadOnlyDictionary<string, double>> bundles) => bundles.Add(bundles[0]);
        }
        """);

    [Fact]
    public Task Groups_reassigned_or_from_elsewhere_are_not_counted() => Verify.VerifyAsync("""
        public sealed class Driver
        {
            private readonly PlacementGroup _group = Ray.GetPlacementGroup("shared");

            public void Place(IReadOnlyDictionary<string, double> cpu, PlacementGroup given, bool reuse)
            {
                var pg = Ray.CreatePlacementGroup([cpu]);
                if (reuse) pg = Ray.GetPlacementGroup("shared");
                _ = new PlacementGroupSchedulingStrategy(pg, 3);

                var refreshed = Ray.CreatePlacementGroup([cpu]);
                Refresh(ref refreshed);
                _ = new PlacementGroupSchedulingStrategy(refreshed, 3);

                var fallback = Ray.CreatePlacementGroup([cpu]);
                fallback ??= given;
                _ = new PlacementGroupSchedulingStrategy(fallback, 3);

                Create(out var made);
                made = Ray.CreatePlacementGroup([cpu]);
                _ = new PlacementGroupSchedulingStrategy(made, 3);

                _ = new PlacementGroupSchedulingStrategy(given, 3);
                _ = new PlacementGroupSchedulingStrategy(_group, 3);
                _ = new PlacementGroupSchedulingStrategy(Ray.GetPlacementGroup("named"), 3);
                _ = new PlacementGroupSchedulingStrategy(pg, 1) { PlacementGroup = given };
            }

            private static void Refresh(ref PlacementGroup pg) => pg = Ray.GetPlacementGroup("shared");

            private static void Create(out PlacementGroup pg) => pg = Ray.GetPlacementGroup("shared");
        }
        """);

    [Fact]
    public Task Look_alike_types_are_ignored() => Verify.VerifyAsync("""
        namespace Other
        {
            public sealed class PlacementGroupSchedulingStrategy
            {
                public PlacementGroupSchedulingStrategy(RaySharp.PlacementGroup pg, int bundleIndex = -1) { }
            }

            public static class Driver
            {
                public static void Place(IReadOnlyDictionary<string, double> cpu)
                {
                    var pg = Ray.CreatePlacementGroup([cpu]);
                    _ = new PlacementGroupSchedulingStrategy(pg, 4);
                    _ = new PlacementGroupSchedulingStrategy(pg, -4);
                }
            }
        }
        """);

    // ---- code fix ----

    [Fact]
    public Task Fix_uses_any_bundle() => VerifyFix.VerifyAsync("""
        public static class Driver
        {
            public static void Place(IReadOnlyDictionary<string, double> cpu, PlacementGroup given)
            {
                var pg = Ray.CreatePlacementGroup([cpu, cpu]);
                _ = new PlacementGroupSchedulingStrategy(pg, {|RAY007:2|});
                _ = new PlacementGroupSchedulingStrategy(given, bundleIndex: {|RAY007:-2|}, captureChildTasks: true);
                _ = new PlacementGroupSchedulingStrategy(pg) { BundleIndex = {|RAY007:9|} };
            }
        }
        """, """
        public static class Driver
        {
            public static void Place(IReadOnlyDictionary<string, double> cpu, PlacementGroup given)
            {
                var pg = Ray.CreatePlacementGroup([cpu, cpu]);
                _ = new PlacementGroupSchedulingStrategy(pg, -1);
                _ = new PlacementGroupSchedulingStrategy(given, bundleIndex: -1, captureChildTasks: true);
                _ = new PlacementGroupSchedulingStrategy(pg) { BundleIndex = -1 };
            }
        }
        """);
}
