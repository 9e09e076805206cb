namespace RaySharp;

/// <summary>Resources reserved atomically across nodes in bundles (gang scheduling). Create with
/// <see cref="Ray.CreatePlacementGroup"/>; schedule into it with <see cref="PlacementGroupSchedulingStrategy"/>.</summary>
public sealed class PlacementGroup
{
    private readonly Func<TimeSpan, CancellationToken, Task<bool>> _waitReady;

    internal PlacementGroup(PlacementGroupId id, IReadOnlyList<IReadOnlyDictionary<string, double>> bundles,
        PlacementStrategy strategy, string? name, Func<TimeSpan, CancellationToken, Task<bool>> waitReady)
    {
        Id = id;
        Bundles = bundles;
        Strategy = strategy;
        Name = name;
        _waitReady = waitReady;
    }

    /// <summary>The group's ID.</summary>
    public PlacementGroupId Id { get; }

    /// <summary>The resource bundles, in the order given at creation.</summary>
    public IReadOnlyList<IReadOnlyDictionary<string, double>> Bundles { get; }

    /// <summary>How bundles are laid over nodes.</summary>
    public PlacementStrategy Strategy { get; }

    /// <summary>The group's name, if it has one.</summary>
    public string? Name { get; }

    /// <summary>Blocks until every bundle is reserved or <paramref name="timeout"/> passes; true when ready.</summary>
    public bool Wait(TimeSpan timeout) => _waitReady(timeout, CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>Completes when every bundle is reserved; fails with <see cref="PlacementGroupSchedulingException"/>
    /// when the group is infeasible or removed.</summary>
    public Task ReadyAsync(CancellationToken ct = default) => _waitReady(Timeout.InfiniteTimeSpan, ct);
}
