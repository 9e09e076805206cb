using Grpc.Core;

namespace RaySharp.Core.Rpc;

/// <summary>
/// Checks on what arrives from the wire before it touches a component's state: a record with a NaN, negative or
/// infinite resource amount, or absurd sizes, is refused at the door with <see cref="StatusCode.InvalidArgument"/>
/// and a message naming the field, so one malformed caller cannot poison the node table or a raylet's accounting.
/// </summary>
internal static class WireValidation
{
    /// <summary>More distinct resources than any real node declares.</summary>
    public const int MaxResourceKinds = 1024;

    /// <summary>Longer than any resource name, endpoint or description a RaySharp process sends.</summary>
    public const int MaxNameLength = 4096;

    /// <summary>Above any real amount (ResourceSet is fixed point at 1/10000).</summary>
    public const double MaxResourceAmount = 1e12;

    /// <param name="resources">The amounts by resource name.</param>
    /// <param name="what">Names the record and field in the error.</param>
    /// <param name="allowMissing">Null is accepted (an optional field).</param>
    /// <param name="allowNegative">Available amounts may dip below zero for a while (a blocked task's CPU lent out and
    /// taken back), as in Ray; totals and requests may not.</param>
    public static void Resources(Dictionary<string, double>? resources, string what, bool allowMissing = false, bool allowNegative = false)
    {
        if (resources is null)
        {
            if (allowMissing) return;
            throw Invalid($"{what} is missing.");
        }
        if (resources.Count > MaxResourceKinds) throw Invalid($"{what} lists {resources.Count} resources; at most {MaxResourceKinds} are accepted.");
        foreach (var (name, amount) in resources)
        {
            if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength) throw Invalid($"{what} has a resource with an empty or overlong name.");
            if (!double.IsFinite(amount) || amount > MaxResourceAmount || amount < (allowNegative ? -MaxResourceAmount : 0))
                throw Invalid($"{what} has {name} = {amount}; a resource amount must be a finite number {(allowNegative ? $"of magnitude at most {MaxResourceAmount:0e0}" : $"from 0 to {MaxResourceAmount:0e0}")}.");
        }
    }

    public static void Text(string? value, string what, bool allowEmpty = false)
    {
        if (value is null || (!allowEmpty && value.Length == 0)) throw Invalid($"{what} is missing.");
        if (value.Length > MaxNameLength) throw Invalid($"{what} is {value.Length} characters long; at most {MaxNameLength} are accepted.");
    }

    public static void Node(NodeRecord node)
    {
        if (node.NodeId.IsNil) throw Invalid("RegisterNode: the node ID is nil.");
        Text(node.RayletEndpoint, "RegisterNode: the raylet endpoint");
        Resources(node.Total, $"RegisterNode of node {node.NodeId}: the total resources");
        Resources(node.Available, $"RegisterNode of node {node.NodeId}: the available resources", allowNegative: true);
    }

    public static void Report(ResourceReport report)
    {
        Resources(report.Available, $"ReportResources of node {report.NodeId}: the available resources", allowNegative: true);
        Resources(report.Total, $"ReportResources of node {report.NodeId}: the total resources", allowMissing: true);
    }

    /// <summary>The most bundles a placement group may have.</summary>
    public const int MaxBundles = 10_000;

    public static void Bundles(PrepareBundlesRequest request)
    {
        if (request.Group.IsNil) throw Invalid("PrepareBundleResources: the placement group ID is nil.");
        if (request.Bundles is not { Length: > 0 and <= MaxBundles })
            throw Invalid($"PrepareBundleResources of {request.Group}: a request prepares 1 to {MaxBundles} bundles.");
        if (request.Bundles.DistinctBy(b => b.Index).Count() != request.Bundles.Length)
            throw Invalid($"PrepareBundleResources of {request.Group}: a bundle index is named twice.");
        foreach (var b in request.Bundles)
        {
            if (b.Index is < 0 or >= MaxBundles) throw Invalid($"PrepareBundleResources of {request.Group}: bundle index {b.Index} is out of range.");
            Resources(b.Resources, $"PrepareBundleResources of {request.Group}: bundle {b.Index}");
        }
    }

    public static void Bundles(BundlesRequest request, string what)
    {
        if (request.Group.IsNil) throw Invalid($"{what}: the placement group ID is nil.");
        if (request.Indices is not { Length: <= MaxBundles } || request.Indices.Any(i => i is < 0 or >= MaxBundles))
            throw Invalid($"{what} of {request.Group}: the bundle indices are missing or out of range.");
    }

    public static void PlacementGroup(WirePlacementGroupSpec spec)
    {
        if (spec.Id.IsNil) throw Invalid("CreatePlacementGroup: the placement group ID is nil.");
        if (spec.Bundles is not { Length: > 0 and <= MaxBundles })
            throw Invalid($"CreatePlacementGroup {spec.Id}: a group has 1 to {MaxBundles} bundles.");
        for (int i = 0; i < spec.Bundles.Length; i++)
        {
            Resources(spec.Bundles[i], $"CreatePlacementGroup {spec.Id}: bundle {i}");
            if (spec.Bundles[i].Count == 0 || spec.Bundles[i].Values.Any(v => v <= 0))
                throw Invalid($"CreatePlacementGroup {spec.Id}: bundle {i} is empty or has an amount that is not positive.");
        }
        if (!Enum.IsDefined(spec.Strategy)) throw Invalid($"CreatePlacementGroup {spec.Id}: unknown strategy {spec.Strategy}.");
        if (spec.Name is not null) Text(spec.Name, $"CreatePlacementGroup {spec.Id}: the name");
        Text(spec.Namespace, $"CreatePlacementGroup {spec.Id}: the namespace", allowEmpty: true);
    }

    public static void Lease(WireLeaseRequest request)
    {
        Text(request.Description, "RequestWorkerLease: the description");
        Resources(request.Resources, $"RequestWorkerLease for {request.Description}: the resources");
        Resources(request.PlacementResources, $"RequestWorkerLease for {request.Description}: the placement resources", allowMissing: true);
        Text(request.RuntimeEnvKey, $"RequestWorkerLease for {request.Description}: the runtime env key", allowEmpty: true);
        if (request.EnvVars is { Count: > MaxResourceKinds }) throw Invalid($"RequestWorkerLease for {request.Description}: {request.EnvVars.Count} env vars.");
        if (request.StoreArgs is { Length: > MaxStoreArgs })
            throw Invalid($"RequestWorkerLease for {request.Description}: {request.StoreArgs.Length} in-store arguments (at most {MaxStoreArgs}).");
    }

    private const int MaxStoreArgs = 10_000;

    internal static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));
}
