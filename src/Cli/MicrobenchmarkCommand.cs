using System.CommandLine;
using System.Globalization;

namespace RaySharp.Cli;

/// <summary><c>raysharp microbenchmark</c>: Ray's microbenchmarks on an embedded cluster, with raw gRPC baselines and the
/// Orleans peer's rows (bench/README.md).</summary>
internal static class MicrobenchmarkCommand
{
    public static Command Build()
    {
        var filter = new Option<string?>("--filter") { Description = "run only the benchmarks whose name contains TEXT", HelpName = "TEXT" };
        var duration = CliOptions.Checked<double>("--duration", "how long each benchmark runs (default: the suite's)", "a positive number of seconds",
            (string s, out double v) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out v) && double.IsFinite(v) && v > 0, "SECONDS");
        var json = new Option<string?>("--json") { Description = "also write the results as JSON to PATH", HelpName = "PATH" };
        var orleans = new Option<bool>("--orleans") { Description = "only the comparison with the Orleans peer: its grain rows and the actor rows they mirror" };
        var noOrleans = new Option<bool>("--no-orleans") { Description = "no Orleans rows (by default they follow the workloads)" };
        var scale = new Option<bool>("--scale") { Description = "only the scale rows: 1,000,000 tasks queued, worker start to first task, 200 actors at once" };
        var noScale = new Option<bool>("--no-scale") { Description = "no scale rows (by default they follow the workloads and take a few minutes)" };
        var command = new Command("microbenchmark", "Ray's microbenchmarks on an embedded cluster, with raw gRPC baselines and an Orleans peer.")
            .With(filter, duration, json, orleans, noOrleans, scale, noScale);
        command.Validators.Add(result =>
        {
            if (result.GetValue(orleans) && result.GetValue(noOrleans)) result.AddError("--orleans and --no-orleans exclude each other");
            if (result.GetValue(scale) && result.GetValue(noScale)) result.AddError("--scale and --no-scale exclude each other");
        });
        command.Handle(async (parse, terminal, _) =>
        {
            var o = new Benchmarks.MicrobenchmarkOptions
            {
                Filter = parse.GetValue(filter), JsonPath = parse.GetValue(json),
                Orleans = parse.GetValue(orleans) ? Benchmarks.OrleansPeerRows.Only
                    : parse.GetValue(noOrleans) ? Benchmarks.OrleansPeerRows.Off
                    : Benchmarks.OrleansPeerRows.Included,
                Scale = parse.GetValue(scale) ? Benchmarks.ScaleRows.Only
                    : parse.GetValue(noScale) ? Benchmarks.ScaleRows.Off
                    : Benchmarks.ScaleRows.Included,
            };
            if (parse.GetValue(duration) is { } seconds) o = o with { Duration = TimeSpan.FromSeconds(seconds) };
            await Benchmarks.Microbenchmarks.RunAsync(terminal.Out, o).ConfigureAwait(false);
            return 0;
        });
        return command;
    }
}
