using System.Text;
using Grpc.Core;

namespace RaySharp.Core.Gcs;

/// <summary>
/// The GCS's internal KV (Ray's <c>InternalKVManager</c>) with quotas, so no client can grow the GCS without bound:
/// keys and namespaces of at most <c>internal_kv_max_key_length</c> characters, values of at most
/// <c>internal_kv_max_value_size</c> bytes, and at most <c>internal_kv_max_total_bytes</c> in all. A put over a limit
/// fails with an RPC error (InvalidArgument, ResourceExhausted) that names the limit and its setting.
/// </summary>
internal sealed class GcsInternalKv(IGcsTableStorage storage, RayConfig config)
{
    private readonly Lock _lock = new();
    private long _totalBytes;

    /// <summary>Bytes (keys and values) stored.</summary>
    public long TotalBytes
    {
        get { lock (_lock) return _totalBytes; }
    }

    /// <summary>Throws an <see cref="RpcException"/> when the entry alone breaks a limit (the total is checked in <see cref="Put"/>).</summary>
    public void CheckPut(string? ns, string? key, byte[] value)
    {
        if (ns is null || key is null)
            throw new RpcException(new Status(StatusCode.InvalidArgument, "An internal KV put needs a namespace and a key."));
        if (ns.Length > config.InternalKvMaxKeyLength || key.Length > config.InternalKvMaxKeyLength)
            throw new RpcException(new Status(StatusCode.InvalidArgument,
                $"The internal KV key '{Shorten(key)}' (namespace '{Shorten(ns)}') is longer than the limit of {config.InternalKvMaxKeyLength} " +
                "characters (internal_kv_max_key_length, RAY_internal_kv_max_key_length)."));
        if (value.LongLength > config.InternalKvMaxValueSize)
            throw new RpcException(new Status(StatusCode.ResourceExhausted,
                $"The internal KV value for '{Shorten(key)}' is {value.LongLength} bytes, over the limit of {config.InternalKvMaxValueSize} bytes " +
                "(internal_kv_max_value_size, RAY_internal_kv_max_value_size)."));
    }

    public bool Put(string ns, string key, byte[] value, bool overwrite)
    {
        CheckPut(ns, key, value);
        lock (_lock)
        {
            var old = storage.KvGet(ns, key);
            if (old is not null && !overwrite) return false;
            long entry = Size(ns, key, value.LongLength);
            long total = _totalBytes - (old is null ? 0 : Size(ns, key, old.LongLength)) + entry;
            if (total > config.InternalKvMaxTotalBytes)
                throw new RpcException(new Status(StatusCode.ResourceExhausted,
                    $"The internal KV holds {_totalBytes} bytes; storing '{Shorten(key)}' ({entry} bytes) would pass the limit of " +
                    $"{config.InternalKvMaxTotalBytes} bytes (internal_kv_max_total_bytes, RAY_internal_kv_max_total_bytes). Delete entries first."));
            bool added = storage.KvPut(ns, key, value, overwrite);
            _totalBytes = total;
            return added;
        }
    }

    public bool Delete(string ns, string key)
    {
        lock (_lock)
        {
            var old = storage.KvGet(ns, key);
            if (!storage.KvDelete(ns, key)) return false;
            if (old is not null) _totalBytes -= Size(ns, key, old.LongLength);
            return true;
        }
    }

    private static long Size(string ns, string key, long valueBytes) => Encoding.UTF8.GetByteCount(ns) + Encoding.UTF8.GetByteCount(key) + valueBytes;

    private static string Shorten(string s) => s.Length <= 64 ? s : s[..64] + "…";
}
