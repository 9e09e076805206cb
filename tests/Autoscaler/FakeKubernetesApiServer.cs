using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace RaySharp.Autoscaler.Tests;

/// <summary>
/// The few endpoints of the Kubernetes API the kubernetes provider calls, on Kestrel: Deployments (read, and their scale
/// subresource, read and merge-patched), Pods (listed by label selector, merge-patched). It acts as the ReplicaSet
/// controller would: raising a Deployment's replicas adds Running pods with its labels, lowering them removes the pods
/// with the lowest <c>controller.kubernetes.io/pod-deletion-cost</c> first. Every request is recorded.
/// </summary>
internal sealed class FakeKubernetesApiServer : IAsyncDisposable
{
    internal sealed record Request(string Method, string Path, string Query, string? ContentType, string Body);

    private sealed class Deployment(string name, Dictionary<string, string> labels)
    {
        public string Name { get; } = name;
        public Dictionary<string, string> Labels { get; } = labels;
        public int Replicas { get; set; }
    }

    private sealed class Pod(string name, Dictionary<string, string> labels)
    {
        public string Name { get; } = name;
        public Dictionary<string, string> Labels { get; } = labels;
        public Dictionary<string, string> Annotations { get; } = [];
        public DateTime Created { get; } = DateTime.UtcNow;
    }

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Deployment> _deployments = [];
    private readonly List<Pod> _pods = [];
    private readonly WebApplication _app;
    private int _next;

    public ConcurrentQueue<Request> Requests { get; } = new();

    public string Namespace { get; }

    public string Url { get; private set; } = "";

    private FakeKubernetesApiServer(string @namespace)
    {
        Namespace = @namespace;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        _app = builder.Build();
        _app.Use(async (context, next) =>
        {
            context.Request.EnableBuffering();
            string body = await new StreamReader(context.Request.Body).ReadToEndAsync();
            context.Request.Body.Position = 0;
            Requests.Enqueue(new Request(context.Request.Method, context.Request.Path, context.Request.QueryString.Value ?? "", context.Request.ContentType, body));
            await next(context);
        });
        string ns = "/namespaces/{ns}";
        _app.MapGet("/apis/apps/v1" + ns + "/deployments/{name}", (string ns, string name) => Found(name, d => DeploymentJson(d)));
        _app.MapGet("/apis/apps/v1" + ns + "/deployments/{name}/scale", (string ns, string name) => Found(name, ScaleJson));
        _app.MapMethods("/apis/apps/v1" + ns + "/deployments/{name}/scale", ["PATCH"], async (string ns, string name, HttpRequest request) =>
        {
            var patch = JsonNode.Parse(await new StreamReader(request.Body).ReadToEndAsync());
            int replicas = patch?["spec"]?["replicas"]?.GetValue<int>() ?? throw new InvalidOperationException("the patch sets no replicas");
            lock (_lock)
            {
                if (!_deployments.TryGetValue(name, out var d)) return Results.NotFound();
                d.Replicas = replicas;
                Reconcile(d);
                return Json(ScaleJson(d));
            }
        });
        _app.MapGet("/api/v1" + ns + "/pods", (string ns, string? labelSelector) =>
        {
            var wanted = (labelSelector ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => s.Split('=', 2)).ToList();
            lock (_lock)
                return Json(new JsonObject
                {
                    ["apiVersion"] = "v1", ["kind"] = "PodList", ["metadata"] = new JsonObject(),
                    ["items"] = new JsonArray([.. _pods.Where(p => wanted.All(w => p.Labels.GetValueOrDefault(w[0]) == w[1])).Select(PodJson)]),
                });
        });
        _app.MapMethods("/api/v1" + ns + "/pods/{name}", ["PATCH"], async (string ns, string name, HttpRequest request) =>
        {
            var patch = JsonNode.Parse(await new StreamReader(request.Body).ReadToEndAsync());
            lock (_lock)
            {
                var pod = _pods.FirstOrDefault(p => p.Name == name);
                if (pod is null) return Results.NotFound();
                foreach (var (key, value) in patch?["metadata"]?["annotations"]?.AsObject() ?? [])
                    pod.Annotations[key] = value!.GetValue<string>();
                return Json(PodJson(pod));
            }
        });
    }

    public static async Task<FakeKubernetesApiServer> StartAsync(string @namespace = "raysharp")
    {
        var server = new FakeKubernetesApiServer(@namespace);
        await server._app.StartAsync();
        server.Url = server._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return server;
    }

    /// <summary>A worker Deployment whose pods carry <c>app=raysharp-worker, raysharp.io/node-type=TYPE</c>.</summary>
    public void AddDeployment(string name, string nodeType, int replicas)
    {
        lock (_lock)
        {
            var d = new Deployment(name, new() { ["app"] = "raysharp-worker", ["raysharp.io/node-type"] = nodeType }) { Replicas = replicas };
            _deployments[name] = d;
            Reconcile(d);
        }
    }

    public IReadOnlyList<string> PodsOf(string deployment)
    {
        lock (_lock) return [.. _pods.Where(p => p.Name.StartsWith(deployment + "-", StringComparison.Ordinal)).Select(p => p.Name)];
    }

    public int ReplicasOf(string deployment)
    {
        lock (_lock) return _deployments[deployment].Replicas;
    }

    /// <summary>The ReplicaSet controller's part: pods up or down to the replicas, the lowest deletion cost removed first.</summary>
    private void Reconcile(Deployment d)
    {
        var mine = _pods.Where(p => p.Name.StartsWith(d.Name + "-", StringComparison.Ordinal)).ToList();
        for (int i = mine.Count; i < d.Replicas; i++) _pods.Add(new Pod($"{d.Name}-{++_next}", new(d.Labels)));
        foreach (var extra in mine.OrderBy(p => int.Parse(p.Annotations.GetValueOrDefault("controller.kubernetes.io/pod-deletion-cost", "0"),
                     System.Globalization.CultureInfo.InvariantCulture)).Take(Math.Max(0, mine.Count - d.Replicas)))
            _pods.Remove(extra);
    }

    private IResult Found(string name, Func<Deployment, JsonObject> json)
    {
        lock (_lock) return _deployments.TryGetValue(name, out var d) ? Json(json(d)) : Results.NotFound();
    }

    private static IResult Json(JsonNode node) => Results.Text(node.ToJsonString(), "application/json");

    private JsonObject Metadata(string name) => new() { ["name"] = name, ["namespace"] = Namespace };

    private JsonObject DeploymentJson(Deployment d) => new()
    {
        ["apiVersion"] = "apps/v1", ["kind"] = "Deployment", ["metadata"] = Metadata(d.Name),
        ["spec"] = new JsonObject
        {
            ["replicas"] = d.Replicas,
            ["selector"] = new JsonObject { ["matchLabels"] = JsonSerializer.SerializeToNode(d.Labels) },
            ["template"] = new JsonObject { ["metadata"] = new JsonObject { ["labels"] = JsonSerializer.SerializeToNode(d.Labels) } },
        },
    };

    private JsonObject ScaleJson(Deployment d) => new()
    {
        ["apiVersion"] = "autoscaling/v1", ["kind"] = "Scale", ["metadata"] = Metadata(d.Name),
        ["spec"] = new JsonObject { ["replicas"] = d.Replicas }, ["status"] = new JsonObject { ["replicas"] = d.Replicas },
    };

    private JsonObject PodJson(Pod p)
    {
        var metadata = Metadata(p.Name);
        metadata["labels"] = JsonSerializer.SerializeToNode(p.Labels);
        metadata["creationTimestamp"] = p.Created.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        if (p.Annotations.Count > 0) metadata["annotations"] = JsonSerializer.SerializeToNode(p.Annotations);
        return new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Pod", ["metadata"] = metadata, ["status"] = new JsonObject { ["phase"] = "Running" } };
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
