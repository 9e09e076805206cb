using RaySharp.Analyzers.CodeFixes;
using Xunit;
using Verify = RaySharp.Analyzers.Tests.Verifiers.GeneratedProxyVerifier<RaySharp.Analyzers.AntiPatterns.RepeatedLargeArgumentAnalyzer>;

namespace RaySharp.Analyzers.Tests;

/// <summary>RAY109: the same large argument passed by value to remote calls in a loop, and the Ray.Put fix.</summary>
public class RepeatedLargeArgumentTests
{
    private const string Remote = """

        public static partial class Model
        {
            [RayRemote]
            public static double Score(double[] weights, int row) => weights[row % weights.Length];

            [RayRemote]
            public static int Count(IReadOnlyList<string> words, string word) => words.Count(w => w == word);
        }

        [RayRemote]
        public partial class Trainer
        {
            public double Step(double[] weights, int epoch) => weights[0] * epoch;
        }
        """;

    // ---- raises ----

    [Fact]
    public Task Array_passed_in_a_for_loop() => Verify.VerifyAsync("""
        public static class Driver
        {
            public static List<ObjectRef<double>> ScoreAll(int rows)
            {
                var weights = new double[1_000_000];
                var refs = new List<ObjectRef<double>>();
                for (var i = 0; i < rows; i++)
                {
                    refs.Add(Model.Remote.Score({|#0:weights|}, i));
                }

                return refs;
            }
        }
        """ + Remote,
        Verify.Warning("RAY109").WithLocation(0).WithMessage(
            "'weights' is passed by value to 'Model.Score' on every iteration, so it is serialized and stored again each time: put it once with 'var weightsRef = Ray.Put(weights);' before the loop and pass the ref"));

    [Fact]
    public Task Collection_parameter_in_linq_and_actor_calls_in_foreach() => Verify.VerifyAsync("""
        public static class Driver
        {
            public static List<ObjectRef<int>> CountAll(List<string> words, string[] queries) =>
                queries.Select(q => Model.Remote.Count({|#0:words|}, q)).ToList();

            public static void Train(ActorHandle<Trainer> trainer, double[] weights, int[] epochs)
            {
                foreach (var epoch in epochs)
                {
                    trainer.Step({|#1:weights|}, epoch);
                }
            }
        }
        """ + Remote,
        Verify.Warning("RAY109").WithLocation(0).WithArguments("words", "Model.Count", "wordsRef"),
        Verify.Warning("RAY109").WithLocation(1).WithArguments("weights", "Trainer.Step", "weightsRef"));

    [Fact]
    public Task Readonly_field_in_a_while_loop() => Verify.VerifyAsync("""
        public sealed class Driver(double[] weights)
        {
            private readonly double[] _weights = weights;

            public double Run()
            {
                var total = 0.0;
                var row = 0;
                while (total < 100)
                {
                    total += Model.Remote.Score({|#0:_weights|}, row++).Get();
                }

                return total;
            }
        }
        """ + Remote,
        Verify.Warning("RAY109").WithLocation(0).WithArguments("_weights", "Model.Score", "weightsRef"));

    // ---- stays silent ----

    [Fact]
    public Task A_ref_passed_in_the_loop_is_already_right() => Verify.VerifyAsync("""
        public static class Driver
        {
            public static List<ObjectRef<double>> ScoreAll(double[] weights, int rows)
            {
                var weightsRef = Ray.Put(weights);
                var refs = new List<ObjectRef<double>>();
                for (var i = 0; i < rows; i++) refs.Add(Model.Remote.Score(weightsRef, i));
                return refs;
            }
        }
        """ + Remote);

    [Fact]
    public Task A_value_that_changes_per_iteration_is_not_repeated() => Verify.VerifyAsync("""
        public static class Driver
        {
            public static void Run(double[][] batches, int rows)
            {
                foreach (var batch in batches) Model.Remote.Score(batch, 0);

                var current = new double[10];
                for (var i = 0; i < rows; i++)
                {
                    current = new double[i + 1];
                    Model.Remote.Score(current, i);
                }

                Model.Remote.Score(batches[0], 1);
                for (var i = 0; i < rows; i++) Model.Remote.Score(batches[i], i);
            }
        }
        """ + Remote);

    [Fact]
    public Task Small_literals_strings_and_refs_lists_are_fine() => Verify.VerifyAsync("""
        public static partial class Jobs
        {
            [RayRemote]
            public static int Pick(int[] choices, string label, List<ObjectRef<int>> deps, int i) => choices[i % choices.Length];

            public static void Run(string label, List<ObjectRef<int>> deps)
            {
                var choices = new[] { 1, 2, 3 };
                for (var i = 0; i < 10; i++) Jobs.Remote.Pick(choices, label, deps, i);
            }
        }
        """);

    // ---- fix ----

    [Fact]
    public Task Fix_puts_once_before_the_loop() => Verify.VerifyFixAsync<PutOnceBeforeLoopCodeFixProvider>("""
        public static class Driver
        {
            public static List<ObjectRef<double>> ScoreAll(int rows)
            {
                var weights = new double[1_000_000];
                var refs = new List<ObjectRef<double>>();
                for (var i = 0; i < rows; i++)
                {
                    refs.Add(Model.Remote.Score({|RAY109:weights|}, i));
                    refs.Add(Model.Remote.Score({|RAY109:weights|}, -i));
                }

                return refs;
            }
        }
        """ + Remote, """
        public static class Driver
        {
            public static List<ObjectRef<double>> ScoreAll(int rows)
            {
                var weights = new double[1_000_000];
                var refs = new List<ObjectRef<double>>();
                var weightsRef = Ray.Put(weights);
                for (var i = 0; i < rows; i++)
                {
                    refs.Add(Model.Remote.Score(weightsRef, i));
                    refs.Add(Model.Remote.Score(weightsRef, -i));
                }

                return refs;
            }
        }
        """ + Remote, iterations: 1);

    [Fact]
    public Task Fix_spells_out_the_type_and_avoids_name_clashes() => Verify.VerifyFixAsync<PutOnceBeforeLoopCodeFixProvider>("""
        public static class Driver
        {
            public static List<ObjectRef<int>> CountAll(List<string> words, string[] queries)
            {
                var wordsRef = "taken";
                var counts = queries.Select(q => Model.Remote.Count({|RAY109:words|}, q + wordsRef)).ToList();
                return counts;
            }
        }
        """ + Remote, """
        public static class Driver
        {
            public static List<ObjectRef<int>> CountAll(List<string> words, string[] queries)
            {
                var wordsRef = "taken";
                var wordsRef2 = Ray.Put<IReadOnlyList<string>>(words);
                var counts = queries.Select(q => Model.Remote.Count(wordsRef2, q + wordsRef)).ToList();
                return counts;
            }
        }
        """ + Remote);

    [Fact]
    public Task Fix_all_puts_each_value_once_in_top_level_code() => Verify.VerifyFixAsync<PutOnceBeforeLoopCodeFixProvider>("""
        var weights = new double[1000];
        var bias = new double[1000];
        for (var i = 0; i < 10; i++)
        {
            Model.Remote.Score({|RAY109:weights|}, i);
            Model.Remote.Score({|RAY109:bias|}, i);
            Model.Remote.Score({|RAY109:weights|}, i + 1);
        }
        """ + Remote, """
        var weights = new double[1000];
        var bias = new double[1000];
        var weightsRef = Ray.Put(weights);
        var biasRef = Ray.Put(bias);
        for (var i = 0; i < 10; i++)
        {
            Model.Remote.Score(weightsRef, i);
            Model.Remote.Score(biasRef, i);
            Model.Remote.Score(weightsRef, i + 1);
        }
        """ + Remote, iterations: 2, topLevelProgram: true);
}
