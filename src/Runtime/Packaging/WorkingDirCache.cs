using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace RaySharp.Core.Packaging;

/// <summary>
/// The working-dir packages unpacked on one node (the part of Ray's runtime-env agent that serves <c>working_dir</c>):
/// <c>&lt;session&gt;/runtime_resources/working_dir_files/&lt;hash&gt;</c>, fetched from the GCS and unpacked once per hash.
/// Several processes may share a session directory (a TestCluster's nodes do), so a package is unpacked into a
/// directory of its own and renamed into place: whoever renames first wins, the others discard their copy.
/// </summary>
internal sealed partial class WorkingDirCache(string sessionDir, Func<string, CancellationToken, Task<byte[]?>> fetch, ILogger logger)
{
    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _unpacked = new(StringComparer.Ordinal);

    /// <summary>Where packages unpack under a session directory.</summary>
    public static string Root(string sessionDir) => Path.Combine(sessionDir, "runtime_resources", "working_dir_files");

    /// <summary>The local directory holding the package <paramref name="uri"/>, fetching and unpacking it first if needed.</summary>
    /// <exception cref="InvalidOperationException">The URI is malformed, the GCS has no such package, or it cannot be unpacked.</exception>
    public Task<string> GetAsync(string uri, CancellationToken ct)
    {
        if (!WorkingDirPackage.IsUri(uri)) throw new InvalidOperationException($"'{uri}' is not a working-dir package URI (gcs://_ray_pkg_<hash>.zip).");
        var lazy = _unpacked.GetOrAdd(uri, u => new Lazy<Task<string>>(() => UnpackAsync(u, CancellationToken.None)));
        var task = lazy.Value;
        // A failure is not cached: the next worker of the job tries again.
        if (task.IsFaulted) _unpacked.TryRemove(new(uri, lazy));
        return task.WaitAsync(ct);
    }

    private async Task<string> UnpackAsync(string uri, CancellationToken ct)
    {
        string root = Root(sessionDir);
        string target = Path.Combine(root, WorkingDirPackage.HashOf(uri));
        try
        {
            if (Directory.Exists(target)) return target;
            byte[] zip = await fetch(uri, ct).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"The GCS has no working-dir package {uri} (it was never uploaded, or was deleted).");
            string staging = Path.Combine(root, $".{WorkingDirPackage.HashOf(uri)}-{Guid.NewGuid():N}");
            try
            {
                WorkingDirPackage.Unpack(zip, staging);
                try
                {
                    Directory.Move(staging, target);
                    LogUnpacked(logger, uri, zip.Length, target);
                }
                catch (IOException) when (Directory.Exists(target))
                {
                    // Another process unpacked the same package first.
                }
            }
            finally
            {
                if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
            }
            return target;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            _unpacked.TryRemove(uri, out _);
            throw new InvalidOperationException($"Could not unpack the working-dir package {uri} into {target}: {e.Message}", e);
        }
        catch
        {
            _unpacked.TryRemove(uri, out _);
            throw;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Unpacked the working-dir package {Uri} ({Bytes} bytes) to {Directory}")]
    private static partial void LogUnpacked(ILogger logger, string uri, int bytes, string directory);
}
