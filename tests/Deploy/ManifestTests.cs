using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.RegularExpressions;
using RaySharp.Cli;
using Xunit;

namespace RaySharp.Deploy.Tests;

/// <summary>
/// The Kubernetes manifests in deploy/kubernetes agree with each other (Services select the pods they front and name
/// their ports, probes and Secrets exist) and with what they run: their arguments parse with the real <c>raysharp</c>
/// command line, the ports in the arguments are the ports the containers declare, and the variables are those the
/// runtime reads.
/// </summary>
public sealed partial class ManifestTests
{
    private static readonly string[] Deployments = ["raysharp-head", "raysharp-worker", "raysharp-redis"];

    [Fact]
    public void Every_document_has_a_kind_a_name_and_the_project_label()
    {
        Assert.NotEmpty(Manifests.All);
        foreach (var (file, root) in Manifests.All)
        {
            Assert.False(string.IsNullOrEmpty(root.Text("apiVersion")), file);
            var metadata = root.Map("metadata");
            Assert.Matches(DnsLabel(), metadata.Text("name"));
            Assert.Equal("raysharp", metadata.Map("labels").Text("app.kubernetes.io/name"));
        }
        foreach (var name in Deployments) Assert.NotNull(Manifests.Object("Deployment", name));
        Assert.NotNull(Manifests.Object("Secret", "raysharp-cluster-token"));
    }

    [Fact]
    public void A_Deployment_selects_its_own_pods_and_every_Service_selects_pods_that_serve_its_target_ports()
    {
        foreach (var deployment in Manifests.OfKind("Deployment"))
        {
            var selector = deployment.Map("spec").Map("selector").Map("matchLabels").Labels();
            var podLabels = deployment.Map("spec").Map("template").Map("metadata").Map("labels").Labels();
            Assert.All(selector, kv => Assert.Equal(kv.Value, podLabels.GetValueOrDefault(kv.Key)));
        }
        foreach (var service in Manifests.OfKind("Service"))
        {
            string name = service.Map("metadata").Text("name");
            var selector = service.Map("spec").Map("selector").Labels();
            var selected = Manifests.OfKind("Deployment").Where(d =>
            {
                var labels = d.Map("spec").Map("template").Map("metadata").Map("labels").Labels();
                return selector.All(kv => labels.GetValueOrDefault(kv.Key) == kv.Value);
            }).ToList();
            Assert.True(selected.Count == 1, $"Service {name} selects {selected.Count} Deployments' pods; it must select one");
            var ports = selected[0].Container().Ports();
            foreach (var port in service.Map("spec").Seq("ports").Maps())
                Assert.True(ports.ContainsKey(port.Text("targetPort")),
                    $"Service {name} sends port {port.Text("port")} to '{port.Text("targetPort")}', which its pods do not declare");
        }
    }

    [Fact]
    public void Probes_use_declared_ports_and_the_routes_the_processes_serve()
    {
        foreach (var name in Deployments)
        {
            var container = Manifests.Object("Deployment", name).Container();
            var ports = container.Ports();
            foreach (var probe in new[] { "readinessProbe", "livenessProbe" })
            {
                Assert.True(container.Has(probe), $"{name} has no {probe}");
                var check = container.Map(probe);
                var action = check.Has("httpGet") ? check.Map("httpGet") : check.Map("tcpSocket");
                Assert.True(ports.ContainsKey(action.Text("port")), $"{name}'s {probe} uses port '{action.Text("port")}', which it does not declare");
                if (check.Has("httpGet"))
                    Assert.Contains(action.Text("path"), new[] { "/api/gcs_healthz", "/metrics" });
            }
        }
        // The head is ready when the GCS answers (the dashboard's route), alive while its node serves metrics.
        var head = Manifests.Object("Deployment", "raysharp-head").Container();
        Assert.Equal("dashboard", head.Map("readinessProbe").Map("httpGet").Text("port"));
        Assert.Equal("metrics", head.Map("livenessProbe").Map("httpGet").Text("port"));
    }

    [Theory]
    [InlineData("raysharp-head")]
    [InlineData("raysharp-worker")]
    public void A_node_s_arguments_parse_with_the_raysharp_command_line_and_its_ports_are_the_ones_it_declares(string name)
    {
        var container = Manifests.Object("Deployment", name).Container();
        var env = container.Seq("env").Maps().ToDictionary(e => e.Text("name"));
        var args = container.Seq("args").Texts().ToArray();
        // Kubernetes expands $(VAR) from the container's env before the process starts. The only variable is the pod's IP,
        // an address of the pod's own interface; here that is loopback (the command line checks the address is local).
        foreach (Match reference in Variable().Matches(string.Join(' ', args)))
            Assert.True(env.ContainsKey(reference.Groups[1].Value), $"{name} uses $({reference.Groups[1].Value}) but does not define it");
        var expanded = args.Select(a => Variable().Replace(a, "127.0.0.1")).ToArray();
        // The command line reads the autoscaling config as it parses: give it the ConfigMap's file, here.
        string config = Path.Combine(Path.GetTempPath(), $"raysharp-deploy-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(config, Manifests.Object("ConfigMap", "raysharp-autoscaling").Map("data").Text("cluster.yaml"));
        using var _ = new DeleteOnDispose(config);
        expanded = [.. expanded.Select(a => a.StartsWith("--autoscaling-config=", StringComparison.Ordinal) ? "--autoscaling-config=" + config : a)];

        var parse = Commands.BuildRoot().Parse(expanded);
        Assert.True(parse.Errors.Count == 0, $"{name}: raysharp {string.Join(' ', expanded)}: {string.Join("; ", parse.Errors.Select(e => e.Message))}");
        Assert.Equal("start", parse.CommandResult.Command.Name);
        Assert.Contains("--block", expanded); // a container's process must stay in the foreground

        var ports = container.Ports();
        Assert.Equal(ports["metrics"], Port(container.Arg("--metrics-export-port")));
        if (name == "raysharp-head")
        {
            Assert.Equal(ports["gcs"], Port(container.Arg("--port")));
            Assert.Equal(ports["dashboard"], Port(container.Arg("--dashboard-port")));
            Assert.Equal("0.0.0.0", container.Arg("--dashboard-host"));
        }
    }

    [Fact]
    public void Workers_and_the_GCS_storage_address_Services_by_name_and_port()
    {
        var worker = Manifests.Object("Deployment", "raysharp-worker").Container();
        AssertServicePort(worker.Arg("--address")!, "gcs");
        var head = Manifests.Object("Deployment", "raysharp-head").Container();
        string storage = head.Arg("--gcs-storage")!;
        Assert.StartsWith("redis://", storage, StringComparison.Ordinal);
        AssertServicePort(storage["redis://".Length..], "redis");
    }

    [Fact]
    public void The_cluster_token_comes_from_the_Secret_in_the_variable_the_runtime_reads()
    {
        var secret = Manifests.Object("Secret", "raysharp-cluster-token");
        foreach (var name in new[] { "raysharp-head", "raysharp-worker" })
        {
            var env = Manifests.Object("Deployment", name).Container().Seq("env").Maps().ToDictionary(e => e.Text("name"));
            Assert.True(env.TryGetValue(Core.ClusterToken.Variable, out var token), $"{name} has no {Core.ClusterToken.Variable}");
            var reference = token.Map("valueFrom").Map("secretKeyRef");
            Assert.Equal(secret.Map("metadata").Text("name"), reference.Text("name"));
            Assert.True(secret.Map("stringData").Has(reference.Text("key")), $"the Secret has no key {reference.Text("key")}");
            // The node advertises the pod's address, which other pods reach.
            Assert.Equal("status.podIP", env["RAY_NODE_IP_ADDRESS"].Map("valueFrom").Map("fieldRef").Text("fieldPath"));
        }
    }

    [Fact]
    public void A_worker_offers_the_CPUs_its_container_is_limited_to()
    {
        var worker = Manifests.Object("Deployment", "raysharp-worker").Container();
        double limit = double.Parse(worker.Map("resources").Map("limits").Text("cpu"), CultureInfo.InvariantCulture);
        Assert.Equal(limit, double.Parse(worker.Arg("--num-cpus")!, CultureInfo.InvariantCulture));
    }

    [Fact]
    public void The_image_recipe_builds_the_command_line_exposes_the_declared_ports_and_runs_raysharp()
    {
        string dockerfile = File.ReadAllText(Path.Combine(Manifests.DeployDir, "Dockerfile"));
        var stages = Regex.Matches(dockerfile, @"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", RegexOptions.Multiline);
        Assert.True(stages.Count >= 2, "the recipe is not multi-stage");
        Assert.Contains("sdk", stages[0].Groups[1].Value, StringComparison.Ordinal);
        Assert.Contains("aspnet", stages[^1].Groups[1].Value, StringComparison.Ordinal);

        var publish = Regex.Match(dockerfile, @"dotnet publish (\S+\.csproj)");
        Assert.True(publish.Success, "the recipe publishes no project");
        string root = Path.GetDirectoryName(Manifests.DeployDir)!;
        Assert.True(File.Exists(Path.Combine(root, publish.Groups[1].Value)), $"{publish.Groups[1].Value} is not in the repository");

        var exposed = Regex.Match(dockerfile, @"^EXPOSE (.+)$", RegexOptions.Multiline).Groups[1].Value
            .Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToHashSet();
        foreach (var name in new[] { "raysharp-head", "raysharp-worker" })
            foreach (var (portName, port) in Manifests.Object("Deployment", name).Container().Ports())
                Assert.True(exposed.Contains(port), $"{name}'s port {portName} ({port}) is not exposed by the image");
        Assert.Matches(@"ENTRYPOINT \[""raysharp""\]", dockerfile);
    }

    [Fact]
    public void The_head_runs_the_autoscaler_with_a_config_that_parses_and_whose_node_type_is_the_worker_Deployment()
    {
        var headDeployment = Manifests.Object("Deployment", "raysharp-head");
        var head = headDeployment.Container();
        string path = head.Arg("--autoscaling-config")!;
        // The config file is the ConfigMap's key, mounted where the argument says.
        var mount = head.Seq("volumeMounts").Maps().Single(m => path.StartsWith(m.Text("mountPath") + "/", StringComparison.Ordinal));
        var volume = headDeployment.Map("spec").Map("template").Map("spec").Seq("volumes").Maps().Single(v => v.Text("name") == mount.Text("name"));
        var configMap = Manifests.Object("ConfigMap", volume.Map("configMap").Text("name"));
        string yaml = configMap.Map("data").Text(Path.GetFileName(path));

        var config = Autoscaler.AutoscalingConfig.Parse(yaml, "deploy/kubernetes/autoscaling.yaml");
        Assert.Equal("kubernetes", config.Provider.Type);
        var type = Assert.Single(config.NodeTypes);
        var workerDeployment = Manifests.Object("Deployment", type.Deployment);
        var worker = workerDeployment.Container();
        // The pods offer what the type says, and register as that type, under their own names.
        Assert.Equal(type.Resources["CPU"], double.Parse(worker.Arg("--num-cpus")!, CultureInfo.InvariantCulture));
        Assert.Equal(["CPU"], type.Resources.Keys);
        var env = worker.Seq("env").Maps().ToDictionary(e => e.Text("name"));
        Assert.Equal(type.Name, env["RAY_NODE_TYPE_NAME"].Text("value"));
        Assert.Equal("metadata.name", env["RAY_CLOUD_INSTANCE_ID"].Map("valueFrom").Map("fieldRef").Text("fieldPath"));
        int replicas = int.Parse(workerDeployment.Map("spec").Text("replicas"), CultureInfo.InvariantCulture);
        Assert.InRange(replicas, type.MinWorkers, type.MaxWorkers);
    }

    [Fact]
    public void The_head_s_service_account_may_do_what_the_kubernetes_provider_calls()
    {
        string account = Manifests.Object("Deployment", "raysharp-head").Map("spec").Map("template").Map("spec").Text("serviceAccountName");
        Assert.NotNull(Manifests.Object("ServiceAccount", account));
        var binding = Manifests.OfKind("RoleBinding").Single(b => b.Seq("subjects").Maps().Any(s => s.Text("kind") == "ServiceAccount" && s.Text("name") == account));
        var role = Manifests.Object("Role", binding.Map("roleRef").Text("name"));
        var granted = role.Seq("rules").Maps()
            .SelectMany(r => r.Seq("resources").Texts().SelectMany(res => r.Seq("verbs").Texts().Select(v => $"{v} {res}")))
            .ToHashSet();
        foreach (var needed in new[] { "get deployments", "get deployments/scale", "patch deployments/scale", "list pods", "patch pods" })
            Assert.True(granted.Contains(needed), $"the head's role does not allow {needed}");
    }

    private static void AssertServicePort(string hostPort, string portName)
    {
        int colon = hostPort.LastIndexOf(':');
        Assert.True(colon > 0, $"'{hostPort}' is not HOST:PORT");
        var service = Manifests.Object("Service", hostPort[..colon]);
        var port = service.Map("spec").Seq("ports").Maps().SingleOrDefault(p => p.Text("name") == portName);
        Assert.True(port is not null, $"Service {hostPort[..colon]} has no port named {portName}");
        Assert.Equal(Port(port.Text("port")), Port(hostPort[(colon + 1)..]));
    }

    private static int Port(string? text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port is > 0 and < 65536 ? port
        : throw new FormatException($"'{text}' is not a port");

    private sealed class DeleteOnDispose(string path) : IDisposable
    {
        public void Dispose() => File.Delete(path);
    }

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    [GeneratedRegex(@"\$\(([A-Z_][A-Z0-9_]*)\)")]
    private static partial Regex Variable();
}
