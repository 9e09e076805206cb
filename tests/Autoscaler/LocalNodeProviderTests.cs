using RaySharp.Autoscaler.Providers;
using Xunit;

namespace RaySharp.Autoscaler.Tests;

/// <summary>The node command line the local provider starts for a node type.</summary>
public sealed class LocalNodeProviderTests
{
    [Fact]
    public void A_type_s_resources_become_the_node_s_options()
    {
        var type = new NodeTypeConfig("gpu_worker", new Dictionary<string, double> { ["CPU"] = 1.5, ["GPU"] = 1, ["accel"] = 2, ["object_store_memory"] = 1e8 },
            0, 1, "gpu");
        var args = LocalNodeProvider.NodeArguments(type, "127.0.0.1:6379", "/tmp/session");
        string line = string.Join(' ', args);
        Assert.StartsWith("node --address 127.0.0.1:6379 --session-dir /tmp/session --lifeline", line);
        Assert.Contains("--num-cpus 1.5", line);
        Assert.Contains("--num-gpus 1", line);
        Assert.Contains("--object-store-memory 100000000", line);
        Assert.Equal("""{"accel":2}""", args[args.IndexOf("--resources") + 1]);
    }

    [Fact]
    public void A_type_without_CPU_offers_none_rather_than_the_machine_s()
    {
        var type = new NodeTypeConfig("accel_only", new Dictionary<string, double> { ["accel"] = 1 }, 0, 1, "a");
        var args = LocalNodeProvider.NodeArguments(type, "127.0.0.1:6379", "/tmp/session");
        Assert.Equal("0", args[args.IndexOf("--num-cpus") + 1]);
    }
}
