using System.Globalization;
using RaySharp.Benchmarks;

// `dotnet run -c Release --project bench/RaySharp.Benchmarks -- [--object-store] [--orleans | --no-orleans] [--scale | --no-scale] [--duration S] [--warmup S] [--filter TEXT] [--json PATH]`

const string Usage = """
    usage: RaySharp.Benchmarks [--object-store] [--orleans | --no-orleans] [--scale | --no-scale] [--queued-tasks N] [--actors N] [--worker-starts N]
                               [--duration SECONDS] [--warmup SECONDS] [--filter TEXT] [--json PATH] [--compare-task-events] [--allocations]
      --object-store  run the object store's benchmarks (put, get, transfer, memory) instead of the call workloads
      --orleans     only the comparison with the Orleans peer: its grain rows and the RaySharp actor rows they mirror
      --no-orleans  no Orleans rows (by default they follow the RaySharp workloads)
      --scale       only the scale rows: tasks queued on one node, worker process start to first task, actors created at once
      --no-scale    no scale rows (by default they follow the workloads and take a few minutes)
      --queued-tasks  tasks queued at once in "tasks queued on one node" (default 1000000)
      --actors        actors in "actors created at once" (default 200)
      --worker-starts fresh workers timed in "worker process start to first task" (default 20)
      --duration  seconds each benchmark is measured (default 2.5)
      --warmup    seconds each benchmark runs before it is measured (default 1)
      --filter    run only the workloads whose name contains TEXT (the raw gRPC baselines always run)
      --json      also write the results to PATH as JSON
      --allocations  under each workload row, the types this process allocated most while it was measured
      --compare-task-events  then measure "single client tasks async" with task events off and on (twice each, fresh clusters)
    """;

var options = new MicrobenchmarkOptions();
bool objectStore = false;
for (int i = 0; i < args.Length; i++)
{
    string arg = args[i];
    if (arg == "--object-store")
    {
        objectStore = true;
        continue;
    }
    if (arg is "--orleans" or "--no-orleans")
    {
        options = options with { Orleans = arg == "--orleans" ? OrleansPeerRows.Only : OrleansPeerRows.Off };
        continue;
    }
    if (arg is "--scale" or "--no-scale")
    {
        options = options with { Scale = arg == "--scale" ? ScaleRows.Only : ScaleRows.Off };
        continue;
    }
    if (arg == "--allocations")
    {
        options = options with { ProfileAllocations = true };
        continue;
    }
    if (arg == "--compare-task-events")
    {
        options = options with { CompareTaskEvents = true };
        continue;
    }
    if (arg is "-h" or "--help")
    {
        Console.WriteLine(Usage);
        Console.WriteLine("workloads: " + string.Join(", ", Microbenchmarks.WorkloadNames));
        Console.WriteLine("Orleans peer: " + string.Join(", ", Microbenchmarks.OrleansWorkloadNames));
        Console.WriteLine("scale rows: " + string.Join(", ", Microbenchmarks.ScaleNames));
        return 0;
    }
    string? problem = arg is not ("--duration" or "--warmup" or "--filter" or "--json" or "--queued-tasks" or "--actors" or "--worker-starts")
        ? $"unknown argument: {arg}"
        : i + 1 >= args.Length ? $"{arg} needs a value"
        : null;
    if (problem is not null)
    {
        Console.Error.WriteLine(problem);
        Console.Error.WriteLine(Usage);
        return 2;
    }
    string value = args[++i];
    switch (arg)
    {
        case "--duration" or "--warmup":
            if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) || seconds < 0 ||
                (arg == "--duration" && seconds == 0))
            {
                Console.Error.WriteLine($"{arg} takes a number of seconds, not '{value}'");
                return 2;
            }
            options = arg == "--duration"
                ? options with { Duration = TimeSpan.FromSeconds(seconds) }
                : options with { Warmup = TimeSpan.FromSeconds(seconds) };
            break;
        case "--queued-tasks" or "--actors" or "--worker-starts":
            if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1)
            {
                Console.Error.WriteLine($"{arg} takes a positive whole number, not '{value}'");
                return 2;
            }
            options = arg switch
            {
                "--queued-tasks" => options with { QueuedTasks = n },
                "--actors" => options with { ActorsAtOnce = n },
                _ => options with { WorkerStarts = n },
            };
            break;
        case "--filter":
            options = options with { Filter = value };
            break;
        case "--json":
            options = options with { JsonPath = value };
            break;
    }
}

using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cts.Cancel();
};
try
{
    if (objectStore) await ObjectStoreBenchmarks.RunAsync(Console.Out, options, cts.Token);
    else await Microbenchmarks.RunAsync(Console.Out, options, cts.Token);
    return 0;
}
catch (OperationCanceledException) when (cts.IsCancellationRequested)
{
    Console.Error.WriteLine("cancelled");
    return 130;
}
