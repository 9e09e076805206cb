using System.IO.Compression;
using System.Security.Cryptography;

namespace RaySharp.Core.Packaging;

/// <summary>
/// A <see cref="RuntimeEnv.WorkingDir"/> as a content-addressed package (Ray's <c>gcs://_ray_pkg_&lt;hash&gt;.zip</c>):
/// the directory zipped in a fixed order with fixed timestamps, so the same files give the same bytes and the same URI.
/// The package is stored once in the GCS internal KV under its URI and unpacked on each node that runs the job's workers.
/// </summary>
internal static class WorkingDirPackage
{
    /// <summary>The internal KV namespace holding packages, keyed by URI.</summary>
    public const string KvNamespace = "runtime_env_packages";

    private const string Prefix = "gcs://_ray_pkg_";
    private const string Suffix = ".zip";
    private const int HashHexLength = 32;
    private static readonly DateTimeOffset s_entryTime = new(1980, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>True for a package URI as <see cref="Pack"/> makes them (and nothing else: no path can pass).</summary>
    public static bool IsUri(string? value) =>
        value is not null && value.Length == Prefix.Length + HashHexLength + Suffix.Length &&
        value.StartsWith(Prefix, StringComparison.Ordinal) && value.EndsWith(Suffix, StringComparison.Ordinal) &&
        value.AsSpan(Prefix.Length, HashHexLength).ContainsAnyExcept("0123456789abcdef") == false;

    /// <summary>The hash part of a package URI (the local directory name it unpacks to).</summary>
    public static string HashOf(string uri) =>
        IsUri(uri) ? uri.Substring(Prefix.Length, HashHexLength) : throw new ArgumentException($"'{uri}' is not a working-dir package URI.", nameof(uri));

    /// <summary>Zips <paramref name="directory"/> (files and subdirectories; symbolic links are followed as files).</summary>
    /// <exception cref="ArgumentException">The directory does not exist, or packs to more than <paramref name="maxBytes"/>.</exception>
    public static (string Uri, byte[] Zip) Pack(string directory, long maxBytes)
    {
        string root = Path.GetFullPath(directory);
        if (!Directory.Exists(root)) throw new ArgumentException($"RuntimeEnv.WorkingDir '{directory}' does not exist.", nameof(directory));
        var files = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Order(StringComparer.Ordinal).ToList();
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var name in files)
            {
                var entry = zip.CreateEntry(name, CompressionLevel.Fastest);
                entry.LastWriteTime = s_entryTime;
                using var source = File.OpenRead(Path.Combine(root, name));
                using var target = entry.Open();
                source.CopyTo(target);
                if (buffer.Length > maxBytes) throw TooLarge(directory, buffer.Length, maxBytes);
            }
        }
        if (buffer.Length > maxBytes) throw TooLarge(directory, buffer.Length, maxBytes);
        byte[] bytes = buffer.ToArray();
        string hash = Convert.ToHexStringLower(SHA256.HashData(bytes))[..HashHexLength];
        return (Prefix + hash + Suffix, bytes);
    }

    private static ArgumentException TooLarge(string directory, long size, long maxBytes) => new(
        $"RuntimeEnv.WorkingDir '{directory}' packs to at least {size} bytes, over the limit of {maxBytes} bytes for a working-dir package " +
        "(internal_kv_max_value_size, RAY_internal_kv_max_value_size). Ship less: leave out data files and large outputs.");

    /// <summary>Unpacks <paramref name="zip"/> into <paramref name="target"/> (which must not exist yet), refusing any
    /// entry that would land outside it (absolute paths, <c>..</c>, drive letters).</summary>
    /// <exception cref="InvalidDataException">The archive is malformed or has an entry outside the directory.</exception>
    public static void Unpack(byte[] zip, string target)
    {
        string root = Path.GetFullPath(target);
        string rootWithSeparator = root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar;
        Directory.CreateDirectory(root);
        using var archive = new ZipArchive(new MemoryStream(zip, writable: false), ZipArchiveMode.Read);
        foreach (var entry in archive.Entries)
        {
            string name = entry.FullName;
            if (name.Length == 0 || name.Contains('\0', StringComparison.Ordinal) || name.Contains('\\', StringComparison.Ordinal) ||
                name.StartsWith('/') || Path.IsPathRooted(name) || name.Split('/').Any(part => part == ".."))
                throw new InvalidDataException($"The working-dir package has the entry '{name}', which would land outside its directory.");
            string path = Path.GetFullPath(Path.Combine(root, name));
            if (!path.StartsWith(rootWithSeparator, StringComparison.Ordinal))
                throw new InvalidDataException($"The working-dir package has the entry '{name}', which would land outside its directory.");
            if (name.EndsWith('/'))
            {
                Directory.CreateDirectory(path);
                continue;
            }
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            entry.ExtractToFile(path, overwrite: false);
        }
    }
}
