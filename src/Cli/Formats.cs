using System.Globalization;
using RaySharp.Core.Raylet;

namespace RaySharp.Cli;

/// <summary>How the commands write the values they share: placement-group strategies and bundles, byte sizes.</summary>
internal static class Formats
{
    /// <summary>Ray's name of a strategy (PACK, SPREAD, STRICT_PACK, STRICT_SPREAD).</summary>
    public static string StrategyName(PlacementStrategy strategy) => strategy switch
    {
        PlacementStrategy.Pack => "PACK",
        PlacementStrategy.Spread => "SPREAD",
        PlacementStrategy.StrictPack => "STRICT_PACK",
        PlacementStrategy.StrictSpread => "STRICT_SPREAD",
        _ => strategy.ToString().ToUpperInvariant(),
    };

    /// <summary>A bundle as <c>{CPU: 1, GPU: 1}</c>.</summary>
    public static string BundleShape(IReadOnlyDictionary<string, double> bundle) =>
        "{" + string.Join(", ", bundle.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => $"{kv.Key}: {kv.Value.ToString("0.###", CultureInfo.InvariantCulture)}")) + "}";

    /// <summary>The bundles of a group: <c>{CPU: 1} * 4</c> when all are alike (as `ray status` writes demands), else each in turn.</summary>
    public static string BundleShapes(Dictionary<string, double>[] bundles)
    {
        var shapes = bundles.Select(BundleShape).ToList();
        return shapes.Distinct().Count() == 1 ? $"{shapes[0]} * {shapes.Count}" : "[" + string.Join(", ", shapes) + "]";
    }

    public static string Bytes(long n) => PlasmaStore.Bytes(n);

    /// <summary>An amount of a resource: <c>3</c>, <c>0.5</c>.</summary>
    public static string Amount(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);
}
