using YamlDotNet.RepresentationModel;

namespace RaySharp.Deploy.Tests;

/// <summary>The repository's deploy/ directory and its Kubernetes manifests, parsed as YAML.</summary>
internal static class Manifests
{
    public static string DeployDir { get; } = FindDeployDir();

    private static string FindDeployDir()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "RaySharp.sln")) && Directory.Exists(Path.Combine(dir.FullName, "deploy")))
                return Path.Combine(dir.FullName, "deploy");
        throw new InvalidOperationException($"No deploy/ directory above {AppContext.BaseDirectory}.");
    }

    /// <summary>Every document of every file under deploy/kubernetes, with the file it came from.</summary>
    public static IReadOnlyList<(string File, YamlMappingNode Root)> All { get; } = Load();

    private static List<(string, YamlMappingNode)> Load()
    {
        var documents = new List<(string, YamlMappingNode)>();
        foreach (var path in Directory.GetFiles(Path.Combine(DeployDir, "kubernetes"), "*.yaml").Order(StringComparer.Ordinal))
        {
            var stream = new YamlStream();
            using (var reader = new StreamReader(path)) stream.Load(reader);
            foreach (var document in stream.Documents)
                documents.Add((Path.GetFileName(path), document.RootNode as YamlMappingNode
                    ?? throw new InvalidOperationException($"{path}: a document that is not a mapping")));
        }
        return documents;
    }

    public static YamlMappingNode Object(string kind, string name) =>
        All.Single(d => d.Root.Text("kind") == kind && d.Root.Map("metadata").Text("name") == name).Root;

    public static IEnumerable<YamlMappingNode> OfKind(string kind) => All.Where(d => d.Root.Text("kind") == kind).Select(d => d.Root);

    // ---- navigation ----

    public static YamlMappingNode Map(this YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var child) && child is YamlMappingNode map ? map
        : throw new KeyNotFoundException($"no mapping '{key}' in {Describe(node)}");

    public static YamlSequenceNode Seq(this YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var child) && child is YamlSequenceNode seq ? seq
        : throw new KeyNotFoundException($"no sequence '{key}' in {Describe(node)}");

    public static string Text(this YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var child) && child is YamlScalarNode { Value: { } value } ? value
        : throw new KeyNotFoundException($"no scalar '{key}' in {Describe(node)}");

    public static string? TextOrNull(this YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var child) && child is YamlScalarNode s ? s.Value : null;

    public static bool Has(this YamlMappingNode node, string key) => node.Children.ContainsKey(new YamlScalarNode(key));

    public static IEnumerable<YamlMappingNode> Maps(this YamlSequenceNode seq) => seq.Children.Cast<YamlMappingNode>();

    public static IEnumerable<string> Texts(this YamlSequenceNode seq) => seq.Children.Select(c => ((YamlScalarNode)c).Value ?? "");

    public static Dictionary<string, string> Labels(this YamlMappingNode node) =>
        node.Children.ToDictionary(kv => ((YamlScalarNode)kv.Key).Value!, kv => ((YamlScalarNode)kv.Value).Value!);

    private static string Describe(YamlMappingNode node) => $"the node at line {node.Start.Line}";

    // ---- workloads ----

    /// <summary>The pod template's only container of a Deployment.</summary>
    public static YamlMappingNode Container(this YamlMappingNode deployment) =>
        deployment.Map("spec").Map("template").Map("spec").Seq("containers").Maps().Single();

    /// <summary>The container's named ports: name → containerPort.</summary>
    public static Dictionary<string, int> Ports(this YamlMappingNode container) =>
        container.Seq("ports").Maps().ToDictionary(p => p.Text("name"), p => int.Parse(p.Text("containerPort"), System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>The value of <c>--name=value</c> among the container's args, or null.</summary>
    public static string? Arg(this YamlMappingNode container, string name) =>
        container.Seq("args").Texts().Where(a => a.StartsWith(name + "=", StringComparison.Ordinal)).Select(a => a[(name.Length + 1)..]).SingleOrDefault();
}
