using System.Reflection;
using NetArchTest.Rules;
using Xunit;

namespace RaySharp.Architecture.Tests;

/// <summary>
/// The runtime's components reference each other in one direction only (DESIGN.md §1 and §9). The core worker and
/// the common types know nothing of the transport, the control plane's implementation or how processes are
/// assembled; the GCS and the raylet reach each other only through RPC contracts and narrow interfaces; the
/// composition roots (Worker: embedded cluster, node and worker processes; LocalMode) depend on everything and
/// nothing depends on them but the public entry point.
/// </summary>
public sealed class ComponentDependencyTests
{
    private static readonly Assembly Runtime = typeof(RaySharp.Ray).Assembly;

    // NetArchTest matches whole namespace segments: "RaySharp.Core.Worker" is the composition roots, not RaySharp.Core.WorkerId.
    private const string Rpc = "RaySharp.Core.Rpc";
    private const string Gcs = "RaySharp.Core.Gcs";
    private const string Raylet = "RaySharp.Core.Raylet";
    private const string LocalMode = "RaySharp.Core.LocalMode";
    private const string Worker = "RaySharp.Core.Worker";
    private const string Testing = "RaySharp.Testing";

    private static PredicateList In(string namespaceRegex) => Types.InAssembly(Runtime).That().ResideInNamespaceMatching(namespaceRegex);

    private static void AssertNone(PredicateList types, params string[] forbidden)
    {
        var result = types.ShouldNot().HaveDependencyOnAny(forbidden).GetResult();
        Assert.True(result.IsSuccessful,
            $"Forbidden references to {string.Join(", ", forbidden)} from: {string.Join(", ", result.FailingTypeNames ?? [])}");
    }

    [Fact]
    public void The_core_worker_and_common_types_know_no_transport_control_plane_or_composition_root() =>
        AssertNone(In(@"^RaySharp\.Core$"), Rpc, Gcs, Raylet, LocalMode, Worker, Testing, "Grpc", "Microsoft.AspNetCore");

    [Fact]
    public void The_gcs_does_not_reach_into_the_raylet_or_the_composition_roots() =>
        AssertNone(In(@"^RaySharp\.Core\.Gcs$"), Raylet, LocalMode, Worker, Testing);

    [Fact]
    public void The_raylet_does_not_reach_into_the_gcs_or_the_composition_roots() =>
        AssertNone(In(@"^RaySharp\.Core\.Raylet$"), Gcs, LocalMode, Worker, Testing);

    [Fact]
    public void The_transport_does_not_depend_on_how_processes_are_assembled() =>
        AssertNone(In(@"^RaySharp\.Core\.Rpc$"), LocalMode, Worker, Testing);

    [Fact]
    public void Local_mode_differs_only_in_its_worker_launcher_and_builds_no_node_of_its_own() =>
        AssertNone(In(@"^RaySharp\.Core\.LocalMode$"), Worker, Gcs, Testing);

    [Fact]
    public void The_public_api_reaches_the_runtime_only_through_the_core_worker_and_its_factory() =>
        AssertNone(In(@"^RaySharp$"), Rpc, Gcs, Raylet, LocalMode);

    [Fact]
    public void A_forbidden_reference_is_detected()
    {
        // The composition roots do use the raylet: the rule must see it, or the tests above prove nothing.
        var result = In(@"^RaySharp\.Core\.Worker$").ShouldNot().HaveDependencyOn(Raylet).GetResult();
        Assert.False(result.IsSuccessful);
        Assert.Contains(result.FailingTypeNames, n => n.StartsWith(Worker + ".", StringComparison.Ordinal));
    }

    [Fact]
    public void Local_mode_holds_no_second_control_plane() =>
        Assert.All(Types.InAssembly(Runtime).That().ResideInNamespaceMatching(@"^RaySharp\.Core\.LocalMode$").GetTypes(),
            t => Assert.DoesNotMatch("Gcs|Raylet|NodeManager|ActorManager|Scheduler", t.Name));
}
