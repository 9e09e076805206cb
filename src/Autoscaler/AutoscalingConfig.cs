using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace RaySharp.Autoscaler;

/// <summary>One worker node type of the cluster (an entry of <c>available_node_types</c>).</summary>
/// <param name="Name">The type's name, as nodes of the type register it (<c>RAY_NODE_TYPE_NAME</c>).</param>
/// <param name="Resources">What one node of the type offers (CPU, GPU, memory, object_store_memory and custom resources).</param>
/// <param name="MinWorkers">Nodes of the type kept running whatever the demand.</param>
/// <param name="MaxWorkers">Nodes of the type the autoscaler never goes above.</param>
/// <param name="Deployment">Kubernetes provider: the worker Deployment that runs the type's pods.</param>
internal sealed record NodeTypeConfig(string Name, IReadOnlyDictionary<string, double> Resources, int MinWorkers, int MaxWorkers, string Deployment);

/// <summary>Which node provider launches nodes: <c>local</c> (processes on the head's machine) or <c>kubernetes</c>.</summary>
/// <param name="Namespace">Kubernetes: the namespace of the worker Deployments.</param>
/// <param name="Kubeconfig">Kubernetes: a kubeconfig file; null: the in-cluster service account, else <c>~/.kube/config</c>.</param>
internal sealed record ProviderConfig(string Type, string Namespace = "default", string? Kubeconfig = null)
{
    public const string Local = "local";
    public const string Kubernetes = "kubernetes";
}

/// <summary>
/// The autoscaling config (<c>raysharp start --head --autoscaling-config cluster.yaml</c>, API.md §14), read from YAML
/// and checked whole: every problem is reported with the field it is in (<c>available_node_types.gpu_worker.max_workers</c>)
/// and its line, and unknown fields are refused (a typo must not silently leave a default in place).
/// </summary>
internal sealed record AutoscalingConfig(ProviderConfig Provider, TimeSpan IdleTimeout, IReadOnlyList<NodeTypeConfig> NodeTypes, TimeSpan UpdateInterval)
{
    /// <summary>Ray's default idle timeout.</summary>
    public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Ray's monitor runs a pass every 5 s (<c>AUTOSCALER_UPDATE_INTERVAL_S</c>).</summary>
    public static readonly TimeSpan DefaultUpdateInterval = TimeSpan.FromSeconds(5);

    private static readonly Regex s_typeName = new("^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$", RegexOptions.CultureInvariant);
    private static readonly Regex s_kubernetesName = new("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", RegexOptions.CultureInvariant);

    /// <summary>Reads and checks the config file.</summary>
    /// <exception cref="AutoscalingConfigException">The file is missing, is not YAML, or a field is wrong (the message names it).</exception>
    public static AutoscalingConfig Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new AutoscalingConfigException($"The autoscaling config {path} cannot be read: {e.Message}", e);
        }
        return Parse(text, Path.GetFileName(path));
    }

    /// <summary>Parses and checks config text; <paramref name="source"/> names it in errors.</summary>
    public static AutoscalingConfig Parse(string yaml, string source = "the autoscaling config")
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            throw new AutoscalingConfigException($"{source}:{e.Start.Line}: not valid YAML: {e.Message}", e);
        }
        if (stream.Documents.Count != 1 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new AutoscalingConfigException($"{source}: expected one YAML document holding a mapping (provider, idle_timeout_minutes, available_node_types).");
        var reader = new Reader(source);
        var config = reader.Config(root);
        return reader.Errors.Count == 0 ? config! : throw new AutoscalingConfigException(string.Join(Environment.NewLine, reader.Errors));
    }

    /// <summary>Walks the YAML tree, collecting every error rather than stopping at the first.</summary>
    private sealed class Reader(string source)
    {
        public List<string> Errors { get; } = [];

        private void Error(YamlNode node, string field, string message) => Errors.Add($"{source}:{node.Start.Line}: {field} {message}");

        public AutoscalingConfig? Config(YamlMappingNode root)
        {
            var fields = Fields(root, "", ["provider", "idle_timeout_minutes", "available_node_types", "update_interval_seconds"]);
            var provider = fields.TryGetValue("provider", out var p) ? Provider(p) : Missing<ProviderConfig>(root, "provider");
            double idle = fields.TryGetValue("idle_timeout_minutes", out var i) ? Number(i, "idle_timeout_minutes", min: 0, exclusiveMin: true)
                : DefaultIdleTimeout.TotalMinutes;
            double interval = fields.TryGetValue("update_interval_seconds", out var u) ? Number(u, "update_interval_seconds", min: 0, exclusiveMin: true)
                : DefaultUpdateInterval.TotalSeconds;
            var types = fields.TryGetValue("available_node_types", out var t) ? NodeTypes(t) : Missing<List<NodeTypeConfig>>(root, "available_node_types");
            if (Errors.Count > 0 || provider is null || types is null) return null;
            return new AutoscalingConfig(provider, TimeSpan.FromMinutes(idle), types, TimeSpan.FromSeconds(interval));
        }

        private T? Missing<T>(YamlNode where, string field) where T : class
        {
            Error(where, field, "is required.");
            return null;
        }

        private Dictionary<string, YamlNode> Fields(YamlNode node, string path, IReadOnlyCollection<string> known)
        {
            var result = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
            if (node is not YamlMappingNode map)
            {
                Error(node, path.Length == 0 ? "the document" : path, $"must be a mapping of {string.Join(", ", known)}.");
                return result;
            }
            foreach (var (keyNode, value) in map.Children)
            {
                string key = (keyNode as YamlScalarNode)?.Value ?? "";
                string field = path.Length == 0 ? key : $"{path}.{key}";
                if (!known.Contains(key)) Error(keyNode, field, $"is not a known field (expected one of: {string.Join(", ", known)}).");
                else result[key] = value;
            }
            return result;
        }

        private ProviderConfig? Provider(YamlNode node)
        {
            var f = Fields(node, "provider", ["type", "namespace", "kubeconfig"]);
            if (!f.TryGetValue("type", out var typeNode)) return Missing<ProviderConfig>(node, "provider.type");
            string? type = Text(typeNode, "provider.type");
            if (type is not (ProviderConfig.Local or ProviderConfig.Kubernetes))
            {
                Error(typeNode, "provider.type", $"must be '{ProviderConfig.Local}' or '{ProviderConfig.Kubernetes}', not '{type}'.");
                return null;
            }
            string ns = "default";
            if (f.TryGetValue("namespace", out var nsNode))
            {
                ns = Text(nsNode, "provider.namespace") ?? ns;
                if (!s_kubernetesName.IsMatch(ns)) Error(nsNode, "provider.namespace", $"must be a Kubernetes namespace name (lowercase letters, digits, '-'), not '{ns}'.");
            }
            string? kubeconfig = f.TryGetValue("kubeconfig", out var kc) ? Text(kc, "provider.kubeconfig") : null;
            if (type == ProviderConfig.Local)
                foreach (var k in f.Keys.Where(k => k != "type"))
                    Error(f[k], $"provider.{k}", "is a field of the kubernetes provider only.");
            return new ProviderConfig(type, ns, kubeconfig);
        }

        private List<NodeTypeConfig>? NodeTypes(YamlNode node)
        {
            if (node is not YamlMappingNode map || map.Children.Count == 0)
            {
                Error(node, "available_node_types", "must be a mapping of at least one node type name to { resources, min_workers, max_workers }.");
                return null;
            }
            var types = new List<NodeTypeConfig>();
            foreach (var (keyNode, value) in map.Children)
            {
                string name = (keyNode as YamlScalarNode)?.Value ?? "";
                string path = $"available_node_types.{name}";
                if (!s_typeName.IsMatch(name))
                {
                    Error(keyNode, path, "is not a valid node type name (letters, digits, '_', '-', '.', at most 63 characters).");
                    continue;
                }
                var f = Fields(value, path, ["resources", "min_workers", "max_workers", "deployment"]);
                var resources = f.TryGetValue("resources", out var r) ? Resources(r, $"{path}.resources") : Missing<Dictionary<string, double>>(value, $"{path}.resources");
                int min = f.TryGetValue("min_workers", out var mn) ? Count(mn, $"{path}.min_workers") : 0;
                int? max = f.TryGetValue("max_workers", out var mx) ? Count(mx, $"{path}.max_workers") : null;
                if (max is null) Error(value, $"{path}.max_workers", "is required (the most nodes of this type the autoscaler may run).");
                else if (min > max) Error(mn!, $"{path}.min_workers", $"({min}) must not exceed max_workers ({max}).");
                string deployment = f.TryGetValue("deployment", out var d) ? Text(d, $"{path}.deployment") ?? "" : DefaultDeployment(name);
                if (!s_kubernetesName.IsMatch(deployment))
                    Error(d ?? value, $"{path}.deployment", $"must be a Kubernetes object name (lowercase letters, digits, '-'), not '{deployment}'.");
                if (resources is not null && max is not null) types.Add(new NodeTypeConfig(name, resources, min, max.Value, deployment));
            }
            return types;
        }

        /// <summary>The Deployment of a node type by default: <c>raysharp-worker-</c> and the type's name made a Kubernetes name.</summary>
        private static string DefaultDeployment(string type) =>
            "raysharp-worker-" + new string([.. type.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-')]).Trim('-');

        private Dictionary<string, double>? Resources(YamlNode node, string path)
        {
            if (node is not YamlMappingNode map || map.Children.Count == 0)
            {
                Error(node, path, "must be a mapping of resource names to amounts, e.g. { CPU: 2, GPU: 1 }.");
                return null;
            }
            var resources = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var (keyNode, value) in map.Children)
            {
                string name = (keyNode as YamlScalarNode)?.Value ?? "";
                if (name.Length == 0 || name.Length > 256 || name.Any(char.IsWhiteSpace))
                    Error(keyNode, $"{path}.{name}", "is not a valid resource name.");
                else resources[name] = Number(value, $"{path}.{name}", min: 0, exclusiveMin: false);
            }
            return resources;
        }

        private string? Text(YamlNode node, string path)
        {
            if (node is YamlScalarNode { Value: { Length: > 0 } value }) return value;
            Error(node, path, "must be a non-empty text value.");
            return null;
        }

        private double Number(YamlNode node, string path, double min, bool exclusiveMin)
        {
            string? text = (node as YamlScalarNode)?.Value;
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value) || value > 1e12)
            {
                Error(node, path, $"must be a number, not '{text ?? node.NodeType.ToString()}'.");
                return 0;
            }
            if (exclusiveMin ? value <= min : value < min)
            {
                Error(node, path, $"must be {(exclusiveMin ? "greater than" : "at least")} {min.ToString(CultureInfo.InvariantCulture)}, not {text}.");
                return 0;
            }
            return value;
        }

        private int Count(YamlNode node, string path)
        {
            string? text = (node as YamlScalarNode)?.Value;
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) || value > 10_000)
            {
                Error(node, path, $"must be a whole number from 0 to 10000, not '{text ?? node.NodeType.ToString()}'.");
                return 0;
            }
            return value;
        }
    }
}

/// <summary>The autoscaling config cannot be used; the message names the file, the line and the field.</summary>
internal sealed class AutoscalingConfigException(string message, Exception? inner = null) : Exception(message, inner);
