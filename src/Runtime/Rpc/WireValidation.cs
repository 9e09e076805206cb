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

    public static void Report(ResourceReport report) =>
        Resources(report.Available, $"ReportResources of node {report.NodeId}: the available resources", allowNegative: true);

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

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));
}
