using System.Globalization;
using RaySharp.Chaos;

// Worker chaos (the default): `dotnet run -c Release --project bench/RaySharp.Chaos -- [--tasks N] [--kill-every SECONDS]
//   [--seed S] [--cpus C]` submits N tasks with MaxRetries = 3 to the embedded cluster while a random worker process is
//   killed every --kill-every seconds, then reports how many finished, failed, were lost (never finished) and ran more
//   than once.
// Node chaos: `dotnet run -c Release --project bench/RaySharp.Chaos -- --nodes [--seeds N] [--first-seed S]
//   [--operations N] [--fault-every SECONDS] [--gcs-restarts] [--large-objects] [--verbose]` runs chains of tasks and restarting actors
//   (and, with --large-objects, large arrays read by a second task) on a 3-node test cluster while workers and whole nodes
//   are killed (and, with --gcs-restarts, the GCS is killed and restarted over Redis), once per seed, and prints a line
//   per seed and the totals.

int tasks = 2000, seed = 1, cpus = 4, seeds = 10, operations = 300;
double killEvery = 1, faultEvery = 1.5;
bool nodes = false, gcsRestarts = false, largeObjects = false, verbose = false;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--nodes": nodes = true; continue;
        case "--gcs-restarts": gcsRestarts = true; continue;
        case "--large-objects": largeObjects = true; continue;
        case "--verbose": verbose = true; continue;
    }
    if (i + 1 >= args.Length)
    {
        Console.Error.WriteLine($"{args[i]} needs a value");
        return 2;
    }
    string v = args[++i];
    switch (args[i - 1])
    {
        case "--tasks": tasks = int.Parse(v, CultureInfo.InvariantCulture); break;
        case "--seed": case "--first-seed": seed = int.Parse(v, CultureInfo.InvariantCulture); break;
        case "--cpus": cpus = int.Parse(v, CultureInfo.InvariantCulture); break;
        case "--kill-every": killEvery = double.Parse(v, CultureInfo.InvariantCulture); break;
        case "--seeds": seeds = int.Parse(v, CultureInfo.InvariantCulture); break;
        case "--operations": operations = int.Parse(v, CultureInfo.InvariantCulture); break;
        case "--fault-every": faultEvery = double.Parse(v, CultureInfo.InvariantCulture); break;
        default:
            Console.Error.WriteLine($"unknown argument {args[i - 1]}; use --tasks N --kill-every SECONDS --seed S --cpus C, or " +
                "--nodes --seeds N --first-seed S --operations N --fault-every SECONDS [--gcs-restarts] [--large-objects] [--verbose]");
            return 2;
    }
}

if (!nodes)
{
    var result = ChaosRun.Run(tasks, TimeSpan.FromSeconds(killEvery), seed, cpus, Console.Out);
    Console.WriteLine(result);
    return 0;
}

var results = new List<NodeChaosResult>();
for (int s = seed; s < seed + seeds; s++)
{
    var r = NodeChaosRun.Run(new NodeChaosOptions
    {
        Seed = s, Operations = operations, FaultEvery = TimeSpan.FromSeconds(faultEvery), GcsRestarts = gcsRestarts, LargeObjects = largeObjects,
    }, verbose ? Console.Error : TextWriter.Null);
    Console.WriteLine(r);
    results.Add(r);
}
Console.WriteLine($"total over {results.Count} seeds: operations={results.Sum(r => r.Operations)} faults_injected={results.Sum(r => r.Faults)} " +
    $"(workers_killed={results.Sum(r => r.WorkersKilled)} nodes_killed={results.Sum(r => r.NodesKilled)} gcs_restarts={results.Sum(r => r.GcsRestarts)}) results_lost={results.Sum(r => r.Lost)} " +
    $"wrong_results={results.Sum(r => r.Wrong)} hangs={results.Sum(r => r.Hangs)} " +
    $"non_retryable_failed_as_documented={results.Sum(r => r.NonRetryableFailedAsDocumented)} non_retryable_failed_otherwise={results.Sum(r => r.NonRetryableFailedOtherwise)}");
return results.All(r => r.Lost == 0 && r.Wrong == 0 && r.Hangs == 0 && r.NonRetryableFailedOtherwise == 0) ? 0 : 1;
