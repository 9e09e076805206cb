namespace RaySharp.Core;

/// <summary>
/// The resources a committed placement-group bundle adds to its node, and the requests of work scheduled into one,
/// named as Ray names them. A bundle <c>{CPU: 2}</c> with index 0 of group <c>g</c> becomes <c>CPU_group_0_g = 2</c>
/// and <c>CPU_group_g = 2</c> (the wildcard every bundle of the group adds to), plus <c>bundle_group_0_g = 1000</c> and
/// <c>bundle_group_g = 1000</c>, which every task in the group asks 0.001 of, so that work needing no other resource
/// still lands in the group. Work scheduled into any bundle asks for the wildcard names; into bundle i, for those and
/// the <c>_group_i_</c> names. The normal scheduler then places it: no other code knows about groups.
/// </summary>
internal static class BundleResources
{
    private const string Infix = "_group_";
    private const string BundlePrefix = "bundle";
    private const double BundleMarker = 1000;
    private const double BundleMarkerRequest = 0.001;

    /// <summary>The name <paramref name="resource"/> takes in bundle <paramref name="index"/> of the group (-1: any bundle).</summary>
    public static string Name(string resource, PlacementGroupId group, int index) =>
        index < 0 ? $"{resource}{Infix}{group}" : $"{resource}{Infix}{index}_{group}";

    /// <summary>What work scheduled into the group asks for instead of <paramref name="request"/>: the group-wide names,
    /// and for a given bundle its own names too (so work in one bundle and work in any bundle together never take more
    /// than the group holds).</summary>
    public static ResourceSet ForBundle(ResourceSet request, PlacementGroupId group, int index)
    {
        var amounts = new List<KeyValuePair<string, double>>();
        foreach (var n in request.Names.Append(BundlePrefix))
        {
            double amount = n == BundlePrefix ? BundleMarkerRequest : request[n];
            amounts.Add(new(Name(n, group, -1), amount));
            if (index >= 0) amounts.Add(new(Name(n, group, index), amount));
        }
        return ResourceSet.From(amounts);
    }

    /// <summary>What a committed bundle adds to its node's totals (its own names and its share of the wildcard names).</summary>
    public static ResourceSet Committed(ResourceSet bundle, PlacementGroupId group, int index)
    {
        var amounts = new List<KeyValuePair<string, double>>();
        foreach (var n in bundle.Names)
        {
            amounts.Add(new(Name(n, group, index), bundle[n]));
            amounts.Add(new(Name(n, group, -1), bundle[n]));
        }
        amounts.Add(new(Name(BundlePrefix, group, index), BundleMarker));
        amounts.Add(new(Name(BundlePrefix, group, -1), BundleMarker));
        return ResourceSet.From(amounts);
    }

    /// <summary>The group a resource name belongs to, if it is a bundle resource.</summary>
    public static bool TryGetGroup(string resource, out PlacementGroupId group)
    {
        group = default;
        int hex = resource.Length - PlacementGroupId.Size * 2;
        return hex > Infix.Length && resource.AsSpan(0, hex).Contains(Infix, StringComparison.Ordinal) && resource[hex - 1] == '_' &&
            PlacementGroupId.TryParse(resource[hex..], out group);
    }

    /// <summary>True for a bundle resource (any group).</summary>
    public static bool IsBundleResource(string resource) => TryGetGroup(resource, out _);

    /// <summary>True when <paramref name="resource"/> is a CPU, of the node or of a bundle: what a task blocked in Get gives back.</summary>
    public static bool IsCpu(string resource) =>
        resource == ResourceSet.Cpu || resource.StartsWith(ResourceSet.Cpu + Infix, StringComparison.Ordinal) && IsBundleResource(resource);

    /// <summary>The amounts in <paramref name="resources"/> that belong to <paramref name="group"/>.</summary>
    public static ResourceSet OfGroup(ResourceSet resources, PlacementGroupId group) =>
        ResourceSet.From(resources.Names.Where(n => TryGetGroup(n, out var g) && g == group).Select(n => new KeyValuePair<string, double>(n, resources[n])));

    /// <summary>The amounts that are not bundle resources (what a node has of its own).</summary>
    public static ResourceSet WithoutBundles(ResourceSet resources) =>
        ResourceSet.From(resources.Names.Where(n => !IsBundleResource(n)).Select(n => new KeyValuePair<string, double>(n, resources[n])));
}
