using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace RaySharp.MultiHost;

/// <summary>
/// Hosts made of Linux network namespaces: namespace <c>rsmh-PID-hN</c> has <c>eth0</c> at 10.213.0.(N+1)/24 (and
/// loopback up), the far end of a veth pair whose near end <c>rsPIDvN</c> is on the bridge <c>rsPIDbr</c> of the root
/// namespace, so the hosts reach each other and nothing else. Processes started in a host run under
/// <c>ip netns exec</c> (which execs: the pid is the process's own). <see cref="Dispose"/> kills every process left in
/// the namespaces and deletes them, the veths and the bridge; <see cref="Create"/> first removes what a crashed earlier
/// run (a process that is gone) left behind. Needs root.
/// </summary>
internal sealed partial class NetworkHosts : IDisposable
{
    private const string Prefix = "rsmh-";
    private readonly int _count;
    private readonly string _id = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
    private readonly List<HostProcess> _processes = [];

    private NetworkHosts(int count, string directory)
    {
        _count = count;
        Directory = directory;
    }

    /// <summary>A directory of this run's own (each host's files go in a subdirectory), deleted at the end.</summary>
    public string Directory { get; }

    public string Namespace(int host) => $"{Prefix}{_id}-h{host}";

    /// <summary>The host's address.</summary>
    public static string Address(int host) => $"10.213.0.{host + 1}";

    private string Bridge => $"rs{_id}br";

    private string Veth(int host) => $"rs{_id}v{host}";

    /// <summary>Why these hosts cannot be made here (null when they can): not Linux, not root, no <c>ip</c> or <c>nft</c>,
    /// or <c>ip netns add</c> refused.</summary>
    public static string? Unavailable()
    {
        if (!OperatingSystem.IsLinux()) return "network namespaces need Linux";
        if (!Environment.IsPrivilegedProcess) return "network namespaces need root (this test process is not)";
        if (!File.Exists("/usr/sbin/ip") && !File.Exists("/sbin/ip") && !File.Exists("/usr/bin/ip")) return "the `ip` command (iproute2) is not installed";
        if (!File.Exists("/usr/sbin/nft") && !File.Exists("/sbin/nft")) return "`nft` (Debian's nftables, which test.sh installs) is not installed";
        string probe = $"{Prefix}probe-{Environment.ProcessId}";
        var (code, error) = Ip("netns", "add", probe);
        if (code != 0) return $"`ip netns add` is not permitted here: {error.Trim()}";
        Ip("netns", "del", probe);
        return null;
    }

    /// <summary>Makes <paramref name="count"/> hosts joined by a bridge.</summary>
    public static NetworkHosts Create(int count)
    {
        RemoveLeftovers();
        string directory = Path.Combine(Path.GetTempPath(), $"{Prefix}{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}");
        System.IO.Directory.CreateDirectory(directory);
        var hosts = new NetworkHosts(count, directory);
        try
        {
            hosts.Must("link", "add", hosts.Bridge, "type", "bridge");
            hosts.Must("link", "set", hosts.Bridge, "up");
            for (int i = 0; i < count; i++)
            {
                string ns = hosts.Namespace(i);
                hosts.Must("netns", "add", ns);
                hosts.Must("link", "add", hosts.Veth(i), "type", "veth", "peer", "name", "eth0", "netns", ns);
                hosts.Must("link", "set", hosts.Veth(i), "master", hosts.Bridge, "up");
                hosts.Must("-n", ns, "addr", "add", Address(i) + "/24", "dev", "eth0");
                hosts.Must("-n", ns, "link", "set", "eth0", "up");
                hosts.Must("-n", ns, "link", "set", "lo", "up");
            }
            return hosts;
        }
        catch
        {
            hosts.Dispose();
            throw;
        }
    }

    /// <summary>Starts <paramref name="file"/> in host <paramref name="host"/>, its stdin a pipe from this process.</summary>
    public HostProcess Start(int host, string file, IEnumerable<string> args, IReadOnlyDictionary<string, string> environment, string name)
    {
        var psi = new ProcessStartInfo("ip")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in (string[])["netns", "exec", Namespace(host), file, .. args]) psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment) psi.Environment[k] = v;
        var process = new HostProcess(Process.Start(psi) ?? throw new InvalidOperationException($"could not start {name}"), name);
        lock (_processes) _processes.Add(process);
        return process;
    }

    /// <summary>Drops <paramref name="percent"/>% of the packets host <paramref name="host"/> receives and as many of those it
    /// sends, at random (nftables; <c>tc netem</c> is not in every kernel).</summary>
    public void DropPacketsPercent(int host, int percent)
    {
        string ns = Namespace(host);
        Nft(ns, "add", "table", "inet", "rsloss");
        foreach (var hook in (string[])["input", "output"])
        {
            Nft(ns, "add", "chain", "inet", "rsloss", hook, $"{{ type filter hook {hook} priority 0; policy accept; }}");
            // Only the link to the other hosts: traffic inside the host (loopback) is not touched.
            Nft(ns, "add", "rule", "inet", "rsloss", hook, hook == "input" ? "iifname" : "oifname", "eth0", "numgen", "random", "mod", "100", "<",
                percent.ToString(CultureInfo.InvariantCulture), "drop");
        }
    }

    /// <summary>Removes the rules of <see cref="DropPacketsPercent"/>.</summary>
    public void StopDroppingPackets(int host) => Nft(Namespace(host), "delete", "table", "inet", "rsloss");

    /// <summary>Cuts host <paramref name="host"/> off: its link to the bridge goes down (no packet in or out).</summary>
    public void Partition(int host) => Must("link", "set", Veth(host), "down");

    private static void Nft(string ns, params string[] args)
    {
        var (code, error) = Run("ip", ["netns", "exec", ns, "nft", .. args]);
        if (code != 0) throw new InvalidOperationException($"nft {string.Join(' ', args)} in {ns} failed: {error}");
    }

    private void Must(params string[] args)
    {
        var (code, error) = Ip(args);
        if (code != 0) throw new InvalidOperationException($"ip {string.Join(' ', args)} failed: {error.Trim()}");
    }

    private static (int Code, string Error) Ip(params string[] args) => Run("ip", args);

    private static (int Code, string Error) Run(string file, string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        var output = process.StandardOutput.ReadToEndAsync();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, error + output.GetAwaiter().GetResult());
    }

    private static string Output(params string[] args)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        string text = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return text;
    }

    /// <summary>Kills every process in the namespace <paramref name="ns"/> (workers its nodes started included).</summary>
    private static void KillAllIn(string ns)
    {
        foreach (var line in Output("netns", "pids", ns).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!int.TryParse(line.Trim(), out int pid)) continue;
            try
            {
                using var p = Process.GetProcessById(pid);
                p.Kill(entireProcessTree: true);
                p.WaitForExit(5000);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // Already gone.
            }
        }
    }

    private static void Remove(string id, IEnumerable<string> namespaces)
    {
        foreach (var ns in namespaces)
        {
            KillAllIn(ns);
            Ip("netns", "del", ns);
        }
        foreach (var link in Output("-o", "link", "show").Split('\n'))
        {
            var match = Regex.Match(link, $@"^\d+: (rs{id}(?:v\d+|br))[@:]");
            if (match.Success) Ip("link", "del", match.Groups[1].Value);
        }
    }

    /// <summary>Removes the namespaces and links of earlier runs whose test process is gone.</summary>
    private static void RemoveLeftovers()
    {
        var byRun = Output("netns", "list").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => LeftoverName().Match(l)).Where(m => m.Success)
            .GroupBy(m => m.Groups[1].Value, m => m.Groups[0].Value);
        foreach (var run in byRun)
        {
            if (int.TryParse(run.Key, out int pid) && Alive(pid)) continue;
            Remove(run.Key, run);
        }
    }

    private static bool Alive(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"^rsmh-(\d+)-h\d+")]
    private static partial Regex LeftoverName();

    public void Dispose()
    {
        List<HostProcess> processes;
        lock (_processes) processes = [.. _processes];
        foreach (var p in processes) p.Dispose();
        Remove(_id, Enumerable.Range(0, _count).Select(Namespace));
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Files of killed processes may still be closing; the directory is under the temp dir.
        }
    }
}
