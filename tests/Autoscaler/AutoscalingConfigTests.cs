using Xunit;

namespace RaySharp.Autoscaler.Tests;

/// <summary>The autoscaling config as API.md §14 shows it, its defaults, and errors that name the field and line.</summary>
public sealed class AutoscalingConfigTests
{
    private const string ApiExample = """
        provider: { type: local }            # local: node processes on this machine; kubernetes: a worker Deployment per node type
        idle_timeout_minutes: 1
        available_node_types:
          cpu_worker: { resources: { CPU: 2 }, min_workers: 0, max_workers: 3 }
          gpu_worker: { resources: { CPU: 1, GPU: 1, accel: 1 }, min_workers: 0, max_workers: 1 }
        """;

    [Fact]
    public void The_example_of_the_API_parses()
    {
        var config = AutoscalingConfig.Parse(ApiExample);
        Assert.Equal(ProviderConfig.Local, config.Provider.Type);
        Assert.Equal(TimeSpan.FromMinutes(1), config.IdleTimeout);
        Assert.Equal(AutoscalingConfig.DefaultUpdateInterval, config.UpdateInterval);
        Assert.Equal(["cpu_worker", "gpu_worker"], config.NodeTypes.Select(t => t.Name));
        var gpu = config.NodeTypes[1];
        Assert.Equal(new Dictionary<string, double> { ["CPU"] = 1, ["GPU"] = 1, ["accel"] = 1 }, gpu.Resources);
        Assert.Equal((0, 1), (gpu.MinWorkers, gpu.MaxWorkers));
        Assert.Equal("raysharp-worker-gpu-worker", gpu.Deployment);
    }

    [Fact]
    public void Fractional_idle_timeouts_kubernetes_fields_and_defaults_are_read()
    {
        var config = AutoscalingConfig.Parse("""
            provider:
              type: kubernetes
              namespace: ray-prod
            idle_timeout_minutes: 0.05
            update_interval_seconds: 0.25
            available_node_types:
              worker:
                resources: { CPU: 4 }
                max_workers: 10
                deployment: my-workers
            """);
        Assert.Equal(ProviderConfig.Kubernetes, config.Provider.Type);
        Assert.Equal("ray-prod", config.Provider.Namespace);
        Assert.Equal(TimeSpan.FromSeconds(3), config.IdleTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(250), config.UpdateInterval);
        Assert.Equal(0, config.NodeTypes[0].MinWorkers);
        Assert.Equal("my-workers", config.NodeTypes[0].Deployment);
    }

    [Theory]
    [InlineData("provider: { type: local }\navailable_node_types:\n  a: { resources: { CPU: 1 }, max_workers: 1, max_wrokers: 2 }",
        "cluster.yaml:3: available_node_types.a.max_wrokers is not a known field")]
    [InlineData("provider: { type: local }\navailable_node_types:\n  a: { resources: { CPU: 1 } }", "available_node_types.a.max_workers is required")]
    [InlineData("provider: { type: local }\navailable_node_types:\n  a: { resources: { CPU: 1 }, min_workers: 3, max_workers: 2 }",
        "available_node_types.a.min_workers (3) must not exceed max_workers (2)")]
    [InlineData("provider: { type: local }\navailable_node_types:\n  a: { resources: { CPU: -1 }, max_workers: 2 }",
        "available_node_types.a.resources.CPU must be at least 0")]
    [InlineData("provider: { type: local }\navailable_node_types:\n  a: { resources: { CPU: lots }, max_workers: 2 }",
        "available_node_types.a.resources.CPU must be a number, not 'lots'")]
    [InlineData("provider: { type: aws }\navailable_node_types:\n  a: { resources: { CPU: 1 }, max_workers: 2 }", "provider.type must be 'local' or 'kubernetes'")]
    [InlineData("provider: { type: local, namespace: x }\navailable_node_types:\n  a: { resources: { CPU: 1 }, max_workers: 2 }",
        "provider.namespace is a field of the kubernetes provider only")]
    [InlineData("provider: { type: local }\nidle_timeout_minutes: 0\navailable_node_types:\n  a: { resources: { CPU: 1 }, max_workers: 2 }",
        "idle_timeout_minutes must be greater than 0")]
    [InlineData("available_node_types:\n  a: { resources: { CPU: 1 }, max_workers: 2 }", "provider is required")]
    [InlineData("provider: { type: local }\navailable_node_types: {}", "available_node_types must be a mapping of at least one node type")]
    [InlineData("provider: { type: local }\navailable_node_types:\n  a: { resources: { CPU: 1 }, max_workers: 1.5 }",
        "available_node_types.a.max_workers must be a whole number")]
    [InlineData("provider: { type: local\n", "not valid YAML")]
    [InlineData("provider: { type: kubernetes }\navailable_node_types:\n  a: { resources: { CPU: 1 }, max_workers: 1, deployment: Bad_Name }",
        "available_node_types.a.deployment must be a Kubernetes object name")]
    public void Mistakes_are_reported_with_the_field(string yaml, string expected)
    {
        var e = Assert.Throws<AutoscalingConfigException>(() => AutoscalingConfig.Parse(yaml, "cluster.yaml"));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("cluster.yaml:", e.Message);
    }

    [Fact]
    public void Every_mistake_is_reported_at_once()
    {
        var e = Assert.Throws<AutoscalingConfigException>(() => AutoscalingConfig.Parse("""
            provider: { type: local }
            idle_timeout_minutes: soon
            available_node_types:
              a: { resources: { CPU: 1 } }
            """));
        Assert.Contains("idle_timeout_minutes must be a number", e.Message);
        Assert.Contains("available_node_types.a.max_workers is required", e.Message);
    }

    [Fact]
    public void A_missing_file_is_named()
    {
        string path = Path.Combine(Path.GetTempPath(), $"no-such-{Guid.NewGuid():N}.yaml");
        var e = Assert.Throws<AutoscalingConfigException>(() => AutoscalingConfig.Load(path));
        Assert.Contains(path, e.Message);
    }
}
