using System.Security.Cryptography;
using System.Text;

namespace RaySharp.Core;

/// <summary>
/// The cluster's shared secret: every RPC of every service carries it (gRPC metadata <c>authorization: Bearer …</c>)
/// and every server refuses calls without it. Its text never appears in logs or <see cref="RayConfig"/>'s description.
/// </summary>
internal sealed class ClusterToken
{
    /// <summary>The environment variable a process reads its token from (never a command-line argument: <c>ps</c> shows those).</summary>
    public const string Variable = "RAY_AUTH_TOKEN";

    /// <summary>The file in a head node's session directory that holds the token (mode 0600).</summary>
    public const string FileName = "auth_token";

    /// <summary>The file in a head node's session directory that names its GCS address, for same-machine discovery.</summary>
    public const string AddressFileName = "gcs_address";

    private ClusterToken(string value)
    {
        Value = value;
        Bytes = Encoding.UTF8.GetBytes(value);
        Header = "Bearer " + value;
    }

    /// <summary>The token's text.</summary>
    public string Value { get; }

    internal byte[] Bytes { get; }

    /// <summary>The <c>authorization</c> header value clients send.</summary>
    internal string Header { get; }

    /// <summary>A new random 256-bit token (64 hex digits).</summary>
    public static ClusterToken Generate() => new(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)));

    /// <summary>A token given by the user; null for null or blank text.</summary>
    public static ClusterToken? From(string? value) => string.IsNullOrWhiteSpace(value) ? null : new(value.Trim());

    /// <summary>Redacted: a token is never printed.</summary>
    public override string ToString() => "<redacted>";

    /// <summary>Writes the token to <c>&lt;session&gt;/auth_token</c> (mode 0600) and the GCS address beside it, so
    /// processes of the same user on this machine find the token of the cluster they join.</summary>
    public void WriteToSession(string sessionDir, string gcsAddress)
    {
        SessionFiles.WritePrivate(Path.Combine(sessionDir, FileName), Value);
        SessionFiles.WritePrivate(Path.Combine(sessionDir, AddressFileName), gcsAddress);
    }

    /// <summary>The token of the cluster whose GCS is <paramref name="gcsAddress"/>, read from its head's session
    /// directory under <paramref name="tempDir"/> (default: the system temp dir's <c>raysharp</c>); null when no
    /// session directory of this machine (readable by this user) names that address.</summary>
    public static ClusterToken? FindLocal(string gcsAddress, string? tempDir = null) => FindLocal(AddressFileName, gcsAddress, tempDir);

    /// <summary>The file beside the token naming the head's dashboard URL (<c>http://HOST:PORT</c>).</summary>
    public const string DashboardAddressFileName = "dashboard_address";

    /// <summary>The token of the cluster whose dashboard serves <paramref name="dashboardUrl"/>, from its head's session
    /// directory on this machine; null when none names that URL.</summary>
    public static ClusterToken? FindLocalForDashboard(string dashboardUrl, string? tempDir = null) =>
        FindLocal(DashboardAddressFileName, dashboardUrl.TrimEnd('/'), tempDir);

    private static ClusterToken? FindLocal(string addressFileName, string address, string? tempDir)
    {
        string root = tempDir ?? Path.Combine(Path.GetTempPath(), "raysharp");
        if (!Directory.Exists(root)) return null;
        IEnumerable<DirectoryInfo> sessions;
        try
        {
            sessions = new DirectoryInfo(root).EnumerateDirectories("session_*").OrderByDescending(d => d.LastWriteTimeUtc).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        foreach (var session in sessions)
        {
            try
            {
                string addressFile = Path.Combine(session.FullName, addressFileName);
                if (!File.Exists(addressFile) || File.ReadAllText(addressFile).Trim().TrimEnd('/') != address) continue;
                if (From(File.ReadAllText(Path.Combine(session.FullName, FileName))) is { } token) return token;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Another user's session, or one being deleted: not ours to read.
            }
        }
        return null;
    }
}

/// <summary>Session directories and files readable by their owner only (the token, sockets and logs are in them).</summary>
internal static class SessionFiles
{
    private const UnixFileMode PrivateDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Creates <paramref name="path"/> (mode 0700) or, if it exists, restricts it to 0700.</summary>
    public static void CreatePrivateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }
        Directory.CreateDirectory(path, PrivateDirectory);
        File.SetUnixFileMode(path, PrivateDirectory);
    }

    /// <summary>Writes <paramref name="text"/> to a file created with mode 0600 (never briefly readable by others).</summary>
    public static void WritePrivate(string path, string text)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = PrivateFile;
        using (var stream = new FileStream(path, options))
        using (var writer = new StreamWriter(stream, new UTF8Encoding(false)))
            writer.Write(text);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, PrivateFile);
    }

    /// <summary>Restricts a Unix socket file to its owner (0600).</summary>
    public static void RestrictSocket(string path)
    {
        if (OperatingSystem.IsWindows() || !File.Exists(path)) return;
        try { File.SetUnixFileMode(path, PrivateFile); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
