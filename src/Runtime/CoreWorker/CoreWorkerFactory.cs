using RaySharp.Core.LocalMode;

namespace RaySharp.Core;

/// <summary>Builds the driver's CoreWorker for <see cref="Ray.Init"/>.</summary>
internal static class CoreWorkerFactory
{
    private static uint s_nextJob;

    public static CoreWorker StartDriver(RayOptions options)
    {
        string? address = options.Address ?? Environment.GetEnvironmentVariable("RAY_ADDRESS");
        if (!options.LocalMode)
        {
            var clusterConfig = RayConfig.FromEnvironment();
            return Worker.ClusterDriver.Start(options, string.IsNullOrWhiteSpace(address) ? null : address.Trim(), clusterConfig, new StderrLogger());
        }
        var resources = NodeResources(options);
        var config = RayConfig.FromEnvironment();
        var logger = new StderrLogger();
        var jobId = new JobId(Interlocked.Increment(ref s_nextJob));
        string ns = options.Namespace ?? Guid.NewGuid().ToString("N");
        var nodeId = NodeId.FromRandom();
        return new CoreWorker(jobId, ns, options.RuntimeEnv, config, logger, worker =>
        {
            var raylet = new InProcessRaylet(resources, nodeId,
                (r, envKey) => new InProcessWorker(worker.Executor, r, envKey), logger);
            var gcs = new InProcessGcs(raylet, worker.Resolver);
            return new WorkerConnections(raylet, gcs, "inproc");
        });
    }

    internal static ResourceSet NodeResources(RayOptions options)
    {
        double cpus = options.NumCpus ?? Environment.ProcessorCount;
        double gpus = options.NumGpus ?? 0;
        if (cpus < 0 || gpus < 0 || double.IsNaN(cpus) || double.IsNaN(gpus))
            throw new ArgumentException($"RayOptions: NumCpus ({cpus}) and NumGpus ({gpus}) must be zero or positive.", nameof(options));
        long totalMemory = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        long objectStore = options.ObjectStoreMemory ?? (long)(totalMemory * 0.3);
        if (objectStore <= 0) throw new ArgumentException($"RayOptions.ObjectStoreMemory is {objectStore}; it must be positive.", nameof(options));
        var amounts = new List<KeyValuePair<string, double>>
        {
            new(ResourceSet.Cpu, cpus), new(ResourceSet.Gpu, gpus),
            new(ResourceSet.Memory, Math.Max(0, totalMemory - objectStore)), new(ResourceSet.ObjectStoreMemory, objectStore),
        };
        foreach (var (name, amount) in options.Resources ?? new Dictionary<string, double>())
        {
            if (amount < 0 || double.IsNaN(amount))
                throw new ArgumentException($"RayOptions.Resources[\"{name}\"] is {amount}; it must be zero or positive.", nameof(options));
            amounts.Add(new(name, amount));
        }
        return ResourceSet.From(amounts);
    }
}
