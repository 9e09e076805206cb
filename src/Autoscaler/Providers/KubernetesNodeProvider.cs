using System.Globalization;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace RaySharp.Autoscaler.Providers;

/// <summary>
/// The <c>kubernetes</c> provider: each node type is a worker Deployment (its <c>deployment</c> in the config) whose pods
/// run <c>raysharp start --address … --block</c> with <c>RAY_CLOUD_INSTANCE_ID</c> set to the pod's name (the downward
/// API) and <c>RAY_NODE_TYPE_NAME</c> to the type. Instances are the Deployment's pods (found through its selector);
/// launching raises its <c>spec.replicas</c> through the scale subresource. Removing one drained pod — not any pod — marks
/// it with the lowest <c>controller.kubernetes.io/pod-deletion-cost</c>, which makes the ReplicaSet controller pick it
/// when the replicas are lowered by one next (KubeRay removes named workers through its RayCluster's
/// <c>workersToDelete</c>; a plain Deployment has only the deletion cost).
/// </summary>
internal sealed class KubernetesNodeProvider : INodeProvider
{
    /// <summary>The annotation the ReplicaSet controller reads to choose which pods go first when it scales down.</summary>
    internal const string DeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost";

    private readonly IKubernetes _client;
    private readonly string _namespace;
    private readonly IReadOnlyList<NodeTypeConfig> _types;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _scaling = new(1, 1);

    public KubernetesNodeProvider(IKubernetes client, string @namespace, IReadOnlyList<NodeTypeConfig> types, ILogger logger)
    {
        _client = client;
        _namespace = @namespace;
        _types = types;
        _logger = logger;
    }

    /// <summary>The provider of a config: the API server from <c>kubeconfig</c> when given, else the in-cluster service
    /// account when running in a pod, else <c>~/.kube/config</c>.</summary>
    public static KubernetesNodeProvider Create(AutoscalingConfig config, ILogger logger)
    {
        var clientConfig = config.Provider.Kubeconfig is { } file ? KubernetesClientConfiguration.BuildConfigFromConfigFile(file)
            : KubernetesClientConfiguration.IsInCluster() ? KubernetesClientConfiguration.InClusterConfig()
            : KubernetesClientConfiguration.BuildConfigFromConfigFile();
        return new KubernetesNodeProvider(new Kubernetes(clientConfig), config.Provider.Namespace, config.NodeTypes, logger);
    }

    public async Task<IReadOnlyList<CloudInstance>> ListInstancesAsync(CancellationToken ct)
    {
        var instances = new List<CloudInstance>();
        foreach (var type in _types)
        {
            var deployment = await _client.AppsV1.ReadNamespacedDeploymentAsync(type.Deployment, _namespace, cancellationToken: ct).ConfigureAwait(false);
            var labels = deployment.Spec?.Selector?.MatchLabels;
            if (labels is not { Count: > 0 })
                throw new InvalidOperationException($"Deployment {_namespace}/{type.Deployment} of node type {type.Name} has no spec.selector.matchLabels.");
            string selector = string.Join(',', labels.Select(l => $"{l.Key}={l.Value}"));
            var pods = await _client.CoreV1.ListNamespacedPodAsync(_namespace, labelSelector: selector, cancellationToken: ct).ConfigureAwait(false);
            foreach (var pod in pods.Items)
            {
                string? phase = pod.Status?.Phase;
                if (phase is "Succeeded" or "Failed") continue;
                var state = pod.Metadata.DeletionTimestamp is not null || pod.Metadata.Annotations?.ContainsKey(DeletionCostAnnotation) == true
                    ? CloudInstanceState.Terminating
                    : phase == "Running" ? CloudInstanceState.Running : CloudInstanceState.Pending;
                var created = pod.Metadata.CreationTimestamp is { } t ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)) : DateTimeOffset.UtcNow;
                instances.Add(new CloudInstance(pod.Metadata.Name, type.Name, state, created));
            }
        }
        return instances;
    }

    public async Task LaunchAsync(NodeTypeConfig type, int count, CancellationToken ct)
    {
        await _scaling.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            int replicas = await ReplicasAsync(type, ct).ConfigureAwait(false);
            await ScaleAsync(type, replicas + count, ct).ConfigureAwait(false);
            _logger.LogInformation("Scaled Deployment {Namespace}/{Deployment} ({NodeType}) from {From} to {To} replicas", _namespace, type.Deployment,
                type.Name, replicas, replicas + count);
        }
        finally
        {
            _scaling.Release();
        }
    }

    public async Task TerminateAsync(CloudInstance instance, CancellationToken ct)
    {
        var type = _types.FirstOrDefault(t => t.Name == instance.NodeType)
            ?? throw new InvalidOperationException($"Instance {instance.InstanceId} is of node type {instance.NodeType}, which the config does not have.");
        await _scaling.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            // The pod first: with the lowest deletion cost it is the one the ReplicaSet removes when the replicas drop.
            var annotation = new V1Patch(System.Text.Json.JsonSerializer.Serialize(new
            {
                metadata = new { annotations = new Dictionary<string, string> { [DeletionCostAnnotation] = int.MinValue.ToString(CultureInfo.InvariantCulture) } },
            }), V1Patch.PatchType.MergePatch);
            await _client.CoreV1.PatchNamespacedPodAsync(annotation, instance.InstanceId, _namespace, cancellationToken: ct).ConfigureAwait(false);
            int replicas = await ReplicasAsync(type, ct).ConfigureAwait(false);
            await ScaleAsync(type, Math.Max(0, replicas - 1), ct).ConfigureAwait(false);
            _logger.LogInformation("Removing pod {Pod} of Deployment {Namespace}/{Deployment}: replicas {From} -> {To}", instance.InstanceId, _namespace,
                type.Deployment, replicas, Math.Max(0, replicas - 1));
        }
        finally
        {
            _scaling.Release();
        }
    }

    private async Task<int> ReplicasAsync(NodeTypeConfig type, CancellationToken ct) =>
        (await _client.AppsV1.ReadNamespacedDeploymentScaleAsync(type.Deployment, _namespace, cancellationToken: ct).ConfigureAwait(false)).Spec?.Replicas ?? 0;

    private Task ScaleAsync(NodeTypeConfig type, int replicas, CancellationToken ct) =>
        _client.AppsV1.PatchNamespacedDeploymentScaleAsync(
            new V1Patch($$$"""{"spec":{"replicas":{{{replicas.ToString(CultureInfo.InvariantCulture)}}}}}""", V1Patch.PatchType.MergePatch),
            type.Deployment, _namespace, cancellationToken: ct);

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        _scaling.Dispose();
        return ValueTask.CompletedTask;
    }
}
