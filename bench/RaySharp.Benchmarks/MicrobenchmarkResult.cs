namespace RaySharp.Benchmarks;

/// <summary>One measured benchmark.</summary>
/// <param name="Name">The benchmark's name (Ray's, for the workloads).</param>
/// <param name="Operations">Operations completed while measured (a call of an "async" workload is many).</param>
/// <param name="Seconds">How long the measurement took.</param>
/// <param name="OpsPerSecond">Operations per second.</param>
/// <param name="RatioToSequentialRpc">Ops/s divided by the sequential raw gRPC round trip's, from the same run.</param>
/// <param name="RatioToPipelinedRpc">Ops/s divided by the pipelined raw gRPC stream's, from the same run.</param>
/// <param name="RatioToStreamPingPong">Ops/s divided by the raw gRPC stream ping-pong's, from the same run (the floor of
/// a sync call on a push stream).</param>
/// <param name="AllocatedBytesPerOperation">Bytes this process allocated per operation while measured (the driver's,
/// and, on the embedded cluster, the GCS's and the raylet's, which share its process); NaN when not measured.</param>
/// <param name="Detail">What the row measured besides its rate (latency percentiles, memory), or null.</param>
public sealed record MicrobenchmarkResult(
    string Name,
    long Operations,
    double Seconds,
    double OpsPerSecond,
    double RatioToSequentialRpc,
    double RatioToPipelinedRpc,
    double RatioToStreamPingPong = double.NaN,
    double AllocatedBytesPerOperation = double.NaN,
    string? Detail = null);
