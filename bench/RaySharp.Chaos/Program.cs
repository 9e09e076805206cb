using System.Diagnostics;
using System.Globalization;
using RaySharp;
using RaySharp.Chaos;

// `dotnet run -c Release --project bench/RaySharp.Chaos -- [--tasks N] [--kill-every SECONDS] [--seed S] [--cpus C]`
// Submits N tasks with MaxRetries = 3 to the embedded cluster while a random worker process is killed every
// --kill-every seconds, then reports how many finished, failed, were lost (never finished) and ran more than once.

int tasks = 2000, seed = 1, cpus = 4;
double killEvery = 1;
for (int i = 0; i + 1 < args.Length; i += 2)
{
    string v = args[i + 1];
    switch (args[i])
    {
        case "--tasks": tasks = int.Parse(v, CultureInfo.InvariantCulture); break;
        case "--seed": seed = int.Parse(v, CultureInfo.InvariantCulture); break;
        case "--cpus": cpus = int.Parse(v, CultureInfo.InvariantCulture); break;
        case "--kill-every": killEvery = double.Parse(v, CultureInfo.InvariantCulture); break;
        default:
            Console.Error.WriteLine($"unknown argument {args[i]}; use --tasks N --kill-every SECONDS --seed S --cpus C");
            return 2;
    }
}

var result = ChaosRun.Run(tasks, TimeSpan.FromSeconds(killEvery), seed, cpus, Console.Out);
Console.WriteLine(result);
return 0;
