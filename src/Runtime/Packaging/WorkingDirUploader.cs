using System.Collections.Concurrent;
using Grpc.Core;
using RaySharp.Core.Rpc;

namespace RaySharp.Core.Packaging;

/// <summary>
/// Turns a driver's local <see cref="RuntimeEnv.WorkingDir"/> into a package URI: packs the directory, stores the
/// package in the GCS internal KV under its URI unless it is there already, and remembers the URI per directory for
/// the life of the driver (as Ray resolves a working dir once per driver).
/// </summary>
internal sealed class WorkingDirUploader(GcsClient gcs, RayConfig config)
{
    private readonly ConcurrentDictionary<string, Lazy<string>> _uris = new(StringComparer.Ordinal);

    /// <summary>The package URI of <paramref name="directory"/> (a URI is returned as it is).</summary>
    /// <exception cref="ArgumentException">The directory is missing or too large to ship.</exception>
    public string Upload(string directory)
    {
        if (WorkingDirPackage.IsUri(directory)) return directory;
        string full = Path.GetFullPath(directory);
        var lazy = _uris.GetOrAdd(full, d => new Lazy<string>(() => UploadNow(d)));
        try
        {
            return lazy.Value;
        }
        catch
        {
            _uris.TryRemove(new(full, lazy));
            throw;
        }
    }

    private string UploadNow(string directory)
    {
        var (uri, zip) = WorkingDirPackage.Pack(directory, config.InternalKvMaxValueSize);
        try
        {
            gcs.KvPut(WorkingDirPackage.KvNamespace, uri, zip, overwrite: false);
        }
        catch (RayException e) when (e.InnerException is RpcException { StatusCode: StatusCode.ResourceExhausted } rpc)
        {
            throw new ArgumentException($"RuntimeEnv.WorkingDir '{directory}' could not be uploaded to the GCS: {rpc.Status.Detail}", e);
        }
        return uri;
    }
}
