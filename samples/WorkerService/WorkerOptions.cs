namespace WorkerService;

/// <summary>The "Worker" section of appsettings.json.</summary>
public sealed class WorkerOptions
{
    public const string Section = "Worker";

    /// <summary>How many batches to score before the service stops itself; 0 runs until the host is stopped.</summary>
    public int Iterations { get; set; } = 3;

    /// <summary>The pause between batches.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMilliseconds(200);
}
