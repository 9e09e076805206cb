namespace RaySharp.Benchmarks;

/// <summary>One measured benchmark.</summary>
/// <param name="Name">The benchmark's name (Ray's, for the workloads).</param>
/// <param name="Operations">Operations completed while measured (a call of an "async" workload is many).</param>
/// <param name="Seconds">How long the measurement took.</param>
/// <param name="OpsPerSecond">Operations per second.</param>
/// <param name="RatioToSequentialRpc">Ops/s divided by the sequential raw gRPC round trip's, from the same run.</param>
/// <param name="RatioToPipelinedRpc">Ops/s divided by the pipelined raw gRPC stream's, from the same run.</param>
public sealed record MicrobenchmarkResult(
    string Name,
    long Operations,
    double Seconds,
    double OpsPerSecond,
    double RatioToSequentialRpc,
    double RatioToPipelinedRpc);
