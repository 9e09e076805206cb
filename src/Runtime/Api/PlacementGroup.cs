namespace RaySharp;

/// <summary>Resources reserved atomically across nodes in bundles (gang scheduling). Create with
/// <see cref="Ray.CreatePlacementGroup"/>; schedule into it with <see cref="PlacementGroupSchedulingStrategy"/>.</summary>
public sealed class PlacementGroup
{
    private readonly Func<TimeSpan, CancellationToken, Task<bool>> _waitReady;
    private readonly Lazy<(IReadOnlyList<IReadOnlyDictionary<string, double>> Bundles, PlacementStrategy Strategy, string? Name)> _description;

    internal PlacementGroup(PlacementGroupId id, IReadOnlyList<IReadOnlyDictionary<string, double>> bundles,
        PlacementStrategy strategy, string? name, Func<TimeSpan, CancellationToken, Task<bool>> waitReady)
    {
        Id = id;
        _description = new(() => (bundles, strategy, name), LazyThreadSafetyMode.PublicationOnly);
        _waitReady = waitReady;
        KnownBundleCount = bundles.Count;
    }

    /// <summary>A group known by ID only (a task that runs in it learns it from its scheduling strategy): its bundles,
    /// strategy and name are looked up when first asked for.</summary>
    internal PlacementGroup(PlacementGroupId id,
        Func<(IReadOnlyList<IReadOnlyDictionary<string, double>> Bundles, PlacementStrategy Strategy, string? Name)> describe,
        Func<TimeSpan, CancellationToken, Task<bool>> waitReady)
    {
        Id = id;
        _description = new(describe, LazyThreadSafetyMode.ExecutionAndPublication);
        _waitReady = waitReady;
    }

    /// <summary>The group's ID.</summary>
    public PlacementGroupId Id { get; }

    /// <summary>The resource bundles, in the order given at creation.</summary>
    public IReadOnlyList<IReadOnlyDictionary<string, double>> Bundles => _description.Value.Bundles;

    /// <summary>How bundles are laid over nodes.</summary>
    public PlacementStrategy Strategy => _description.Value.Strategy;

    /// <summary>The group's name, if it has one.</summary>
    public string? Name => _description.Value.Name;

    /// <summary>The number of bundles when known without asking the cluster (for checks at the call).</summary>
    internal int? KnownBundleCount { get; }

    /// <summary>Blocks until every bundle is reserved or <paramref name="timeout"/> passes; true when ready. A group no
    /// node set can hold yet stays pending (false at the timeout) until a node that fits joins.</summary>
    /// <exception cref="PlacementGroupSchedulingException">The group was removed.</exception>
    public bool Wait(TimeSpan timeout)
    {
        if (timeout < TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The timeout is zero or positive, or Timeout.InfiniteTimeSpan.");
        return _waitReady(timeout, CancellationToken.None).GetAwaiter().GetResult();
    }

    /// <summary>Completes when every bundle is reserved; waits while the group is pending (infeasible groups included,
    /// until a node that fits joins); fails with <see cref="PlacementGroupSchedulingException"/> when the group is
    /// removed.</summary>
    public Task ReadyAsync(CancellationToken ct = default) => _waitReady(Timeout.InfiniteTimeSpan, ct);

    /// <inheritdoc/>
    public override string ToString() => $"PlacementGroup({Id})";
}
