using System.CommandLine;
using System.Globalization;

namespace RaySharp.Cli;

/// <summary><c>raysharp microbenchmark</c>: Ray's microbenchmarks on an embedded cluster, with raw gRPC baselines.</summary>
internal static class MicrobenchmarkCommand
{
    public static Command Build()
    {
        var filter = new Option<string?>("--filter") { Description = "run only the benchmarks whose name contains TEXT", HelpName = "TEXT" };
        var duration = CliOptions.Checked<double>("--duration", "how long each benchmark runs (default: the suite's)", "a positive number of seconds",
            (string s, out double v) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out v) && double.IsFinite(v) && v > 0, "SECONDS");
        var json = new Option<string?>("--json") { Description = "also write the results as JSON to PATH", HelpName = "PATH" };
        var command = new Command("microbenchmark", "Ray's microbenchmarks on an embedded cluster, with raw gRPC baselines.").With(filter, duration, json);
        command.Handle(async (parse, terminal, _) =>
        {
            var o = new Benchmarks.MicrobenchmarkOptions { Filter = parse.GetValue(filter), JsonPath = parse.GetValue(json) };
            if (parse.GetValue(duration) is { } seconds) o = o with { Duration = TimeSpan.FromSeconds(seconds) };
            await Benchmarks.Microbenchmarks.RunAsync(terminal.Out, o).ConfigureAwait(false);
            return 0;
        });
        return command;
    }
}
