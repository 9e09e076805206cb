using k8s;
using Microsoft.Extensions.Logging.Abstractions;
using RaySharp.Autoscaler.Providers;
using Xunit;

namespace RaySharp.Autoscaler.Tests;

/// <summary>The kubernetes provider through KubernetesClient against a fake API server: instances are a Deployment's pods,
/// launching patches its scale, and terminating one pod gives it the lowest deletion cost before the replicas drop.</summary>
public sealed class KubernetesNodeProviderTests : IAsyncLifetime
{
    private FakeKubernetesApiServer _api = null!;
    private KubernetesNodeProvider _provider = null!;
    private AutoscalingConfig _config = null!;

    public async Task InitializeAsync()
    {
        _api = await FakeKubernetesApiServer.StartAsync("raysharp");
        _api.AddDeployment("raysharp-worker-cpu-worker", "cpu_worker", replicas: 1);
        _api.AddDeployment("gpu-pool", "gpu_worker", replicas: 0);
        _config = AutoscalingConfig.Parse("""
            provider: { type: kubernetes, namespace: raysharp }
            available_node_types:
              cpu_worker: { resources: { CPU: 2 }, max_workers: 3 }
              gpu_worker: { resources: { CPU: 1, accel: 1 }, max_workers: 2, deployment: gpu-pool }
            """);
        var client = new Kubernetes(new KubernetesClientConfiguration { Host = _api.Url });
        _provider = new KubernetesNodeProvider(client, _config.Provider.Namespace, _config.NodeTypes, NullLogger.Instance);
    }

    public async Task DisposeAsync()
    {
        await _provider.DisposeAsync();
        await _api.DisposeAsync();
    }

    [Fact]
    public async Task Instances_are_the_pods_of_each_type_s_Deployment()
    {
        var instances = await _provider.ListInstancesAsync(CancellationToken.None);
        var pod = Assert.Single(instances);
        Assert.Equal((_api.PodsOf("raysharp-worker-cpu-worker")[0], "cpu_worker", CloudInstanceState.Running), (pod.InstanceId, pod.NodeType, pod.State));
        Assert.Contains(_api.Requests, r => r.Method == "GET" && r.Path == "/api/v1/namespaces/raysharp/pods"
            && Uri.UnescapeDataString(r.Query).Contains("labelSelector=app=raysharp-worker,raysharp.io/node-type=gpu_worker", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Launching_raises_the_replicas_through_the_scale_subresource()
    {
        var gpu = _config.NodeTypes.Single(t => t.Name == "gpu_worker");
        await _provider.LaunchAsync(gpu, 2, CancellationToken.None);
        Assert.Equal(2, _api.ReplicasOf("gpu-pool"));
        var patch = Assert.Single(_api.Requests, r => r.Method == "PATCH");
        Assert.Equal("/apis/apps/v1/namespaces/raysharp/deployments/gpu-pool/scale", patch.Path);
        Assert.StartsWith("application/merge-patch+json", patch.ContentType);
        Assert.Equal(2, (await _provider.ListInstancesAsync(CancellationToken.None)).Count(i => i.NodeType == "gpu_worker"));
    }

    [Fact]
    public async Task Terminating_removes_that_pod_and_no_other()
    {
        var gpu = _config.NodeTypes.Single(t => t.Name == "gpu_worker");
        await _provider.LaunchAsync(gpu, 3, CancellationToken.None);
        var pods = (await _provider.ListInstancesAsync(CancellationToken.None)).Where(i => i.NodeType == "gpu_worker").ToList();
        var victim = pods[1];
        await _provider.TerminateAsync(victim, CancellationToken.None);

        Assert.Equal(2, _api.ReplicasOf("gpu-pool"));
        Assert.Equal(pods.Where(p => p != victim).Select(p => p.InstanceId).Order(), _api.PodsOf("gpu-pool").Order());
        var annotate = Assert.Single(_api.Requests, r => r.Method == "PATCH" && r.Path.EndsWith("/pods/" + victim.InstanceId, StringComparison.Ordinal));
        Assert.Contains(KubernetesNodeProvider.DeletionCostAnnotation, annotate.Body);
        // The pod is marked before the replicas drop: otherwise the ReplicaSet could pick another one.
        var order = _api.Requests.ToList();
        Assert.True(order.IndexOf(annotate) < order.FindLastIndex(r => r.Method == "PATCH" && r.Path.EndsWith("/scale", StringComparison.Ordinal)));
    }
}
