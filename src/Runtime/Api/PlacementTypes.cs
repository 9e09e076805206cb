namespace RaySharp;

/// <summary>How the bundles of a placement group are laid over nodes.</summary>
public enum PlacementStrategy
{
    /// <summary>As few nodes as possible (best effort).</summary>
    Pack = 0,
    /// <summary>Over distinct nodes where possible (best effort).</summary>
    Spread = 1,
    /// <summary>All bundles on one node, or fail.</summary>
    StrictPack = 2,
    /// <summary>Each bundle on a distinct node, or fail.</summary>
    StrictSpread = 3,
}

/// <summary>How long a placement group lives.</summary>
public enum PlacementGroupLifetime
{
    /// <summary>Removed when its creator dies: the actor that created it, or else the job. The default.</summary>
    NonDetached = 0,
    /// <summary>Lives until removed with <see cref="Ray.RemovePlacementGroup"/>.</summary>
    Detached = 1,
}
