namespace RaySharp.Core.Worker;

/// <summary>The command line of the runtime's own processes (<c>node</c>, <c>gcs</c>): <c>--key value</c> options and bare
/// <c>--flag</c>s after the mode, and a run that turns a failure into one line on stderr and exit code 1.</summary>
internal static class ProcessArgs
{
    public static (Dictionary<string, string> Options, HashSet<string> Flags) Parse(string[] args)
    {
        var o = new Dictionary<string, string>();
        var flags = new HashSet<string>();
        for (int i = 1; i < args.Length; i++)
        {
            string key = args[i].TrimStart('-');
            if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) o[key] = args[++i];
            else flags.Add(key);
        }
        return (o, flags);
    }

    /// <summary>The <c>--metrics-export-port</c> option (Ray's flag): a port from 0 (a free one, the default) to 65535.</summary>
    public static int MetricsExportPort(Dictionary<string, string> options) =>
        !options.TryGetValue("metrics-export-port", out var text) ? 0
        : int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int port) && port <= 65535 ? port
        : throw new ArgumentException($"--metrics-export-port must be a port number from 0 (any free port) to 65535, not '{text}'.");

    /// <summary>The address the process binds and advertises: <c>--node-ip-address</c> (or <c>--node-ip</c>), else
    /// <c>RAY_NODE_IP_ADDRESS</c>, else loopback; checked (<see cref="NodeIpAddress.Validate"/>).</summary>
    public static string NodeIp(Dictionary<string, string> options) =>
        options.TryGetValue("node-ip-address", out var text) || options.TryGetValue("node-ip", out text)
            ? NodeIpAddress.Validate(text) : NodeIpAddress.FromEnvironment();

    /// <param name="what">Names the process in the failure line (<c>[RaySharp node] failed: ...</c>).</param>
    /// <param name="args">The process's arguments, the mode first.</param>
    /// <param name="run">The process's work, with its options and flags.</param>
    public static int Run(string what, string[] args, Func<Dictionary<string, string>, HashSet<string>, Task<int>> run)
    {
        var (o, flags) = Parse(args);
        try
        {
            return run(o, flags).GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"[RaySharp {what}] failed: {e.Message}");
            return 1;
        }
    }
}
