using MemoryPack;
using RaySharp.Core.Rpc;
using StackExchange.Redis;

namespace RaySharp.Core.Gcs;

/// <summary>An actor's row in the Redis actor table: its info and the task that creates it, written together.</summary>
[MemoryPackable]
internal sealed partial record ActorTableEntry(ActorInfo Actor, WireTaskSpec CreationTask);

/// <summary>
/// The GCS tables in Redis (Ray's <c>RedisStoreClient</c> under <c>GcsTableStorage</c>), so a restarted GCS reloads
/// nodes, jobs, actors (with their creation tasks, names and namespaces), placement groups, the internal KV and the
/// job counter. Every key starts with <c>RAYSHARP:&lt;cluster&gt;:</c> (the cluster's storage namespace, Ray's
/// <c>external_storage_namespace</c>), so clusters sharing one Redis do not see each other. Each table is one Redis
/// hash (<c>NODE</c>, <c>JOB</c>, <c>ACTOR</c>, <c>PLACEMENT_GROUP</c>, and <c>KV:&lt;namespace&gt;</c> per KV
/// namespace) whose fields are the IDs in hex or the KV keys, and whose values are MemoryPack-serialized records; the
/// job counter is the string <c>JOB_COUNTER</c>.
/// </summary>
/// <remarks>Every call waits for Redis's reply: a write that Redis did not take throws (<see cref="RedisException"/>,
/// e.g. a timeout while Redis is down) rather than being lost.</remarks>
internal sealed class RedisGcsTableStorage : IGcsTableStorage, IDisposable, IAsyncDisposable
{
    /// <summary>Redis's port when the address names none.</summary>
    public const int DefaultPort = 6379;

    private readonly ConnectionMultiplexer _redis;
    private readonly IDatabase _db;
    private readonly RedisKey _nodes;
    private readonly RedisKey _jobs;
    private readonly RedisKey _actors;
    private readonly RedisKey _placementGroups;
    private readonly RedisKey _jobCounter;
    private readonly string _kvPrefix;

    /// <summary>Connects to the Redis at <paramref name="address"/> (<c>redis://HOST:PORT</c>, or
    /// <c>redis://[USER]:PASSWORD@HOST:PORT</c>) and keeps the tables of cluster <paramref name="clusterNamespace"/>;
    /// <paramref name="timeout"/> (default 5 s) bounds the connect and each call, also while Redis is unreachable.</summary>
    /// <exception cref="ArgumentException">The address is not such a URL, or the namespace is empty or has a <c>:</c>.</exception>
    /// <exception cref="InvalidOperationException">Redis does not answer at that address (or refuses the password).</exception>
    public RedisGcsTableStorage(string address, string clusterNamespace, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(clusterNamespace);
        if (clusterNamespace.Length == 0 || clusterNamespace.Contains(':', StringComparison.Ordinal))
            throw new ArgumentException($"The GCS storage namespace must be non-empty and without ':' (got '{clusterNamespace}').", nameof(clusterNamespace));
        var endpoint = ParseAddress(address);
        // Named without the password, which must not reach logs or exception messages.
        Address = endpoint.Host.Contains(':', StringComparison.Ordinal) ? $"redis://[{endpoint.Host}]:{endpoint.Port}" : $"redis://{endpoint.Host}:{endpoint.Port}";
        Namespace = clusterNamespace;

        int timeoutMs = (int)(timeout ?? TimeSpan.FromSeconds(5)).TotalMilliseconds;
        var options = new ConfigurationOptions
        {
            EndPoints = { { endpoint.Host, endpoint.Port } },
            User = endpoint.User,
            Password = endpoint.Password,
            AbortOnConnectFail = true,
            ConnectTimeout = timeoutMs,
            SyncTimeout = timeoutMs,
            AsyncTimeout = timeoutMs,
            ConnectRetry = 1,
            ClientName = "raysharp-gcs",
        };
        try
        {
            _redis = ConnectionMultiplexer.Connect(options);
        }
        catch (RedisConnectionException e) when (e.FailureType == ConnectionFailureType.AuthenticationFailure)
        {
            throw new InvalidOperationException(
                $"Redis at {Address} refused the GCS's credentials: give the password in the address (redis://:PASSWORD@HOST:PORT). {e.InnerException?.Message}", e);
        }
        catch (RedisException e)
        {
            throw new InvalidOperationException(
                $"Cannot reach Redis at {Address} for the GCS tables (nothing answered within {timeoutMs} ms: {e.GetType().Name}): " +
                "start redis-server there, or point the GCS storage at a running Redis.", e);
        }
        _db = _redis.GetDatabase();

        string prefix = $"RAYSHARP:{clusterNamespace}:";
        _nodes = prefix + "NODE";
        _jobs = prefix + "JOB";
        _actors = prefix + "ACTOR";
        _placementGroups = prefix + "PLACEMENT_GROUP";
        _jobCounter = prefix + "JOB_COUNTER";
        _kvPrefix = prefix + "KV:";
    }

    /// <summary>The Redis address, <c>redis://HOST:PORT</c> (without any password).</summary>
    public string Address { get; }

    /// <summary>The cluster's storage namespace (the key prefix).</summary>
    public string Namespace { get; }

    /// <summary>Parses <c>redis://HOST:PORT</c> (port 6379 when omitted), with an optional <c>[USER]:PASSWORD@</c>.</summary>
    /// <exception cref="ArgumentException">The text is not such a URL.</exception>
    internal static (string Host, int Port, string? User, string? Password) ParseAddress(string address)
    {
        ArgumentNullException.ThrowIfNull(address);
        const string expected = "expected redis://HOST:PORT or redis://:PASSWORD@HOST:PORT";
        if (!address.StartsWith("redis://", StringComparison.OrdinalIgnoreCase)
            || !Uri.TryCreate(address, UriKind.Absolute, out var uri)
            || uri.HostNameType is UriHostNameType.Unknown
            || uri.Host.Length == 0)
            throw new ArgumentException($"Malformed Redis address '{address}': {expected}.", nameof(address));
        if (uri.AbsolutePath is not ("" or "/") || uri.Query.Length > 0 || uri.Fragment.Length > 0)
            throw new ArgumentException($"Malformed Redis address '{address}': {expected} (no path, query or fragment).", nameof(address));
        int port = uri.Port < 0 ? DefaultPort : uri.Port;
        if (port == 0)
            throw new ArgumentException($"Malformed Redis address '{address}': {expected} (a port of 1-65535).", nameof(address));

        string? user = null, password = null;
        if (uri.UserInfo.Length > 0)
        {
            int colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
                throw new ArgumentException($"Malformed Redis address '{address}': {expected} (a password follows ':').", nameof(address));
            user = colon == 0 ? null : Uri.UnescapeDataString(uri.UserInfo[..colon]);
            password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
        }
        // Uri keeps the brackets of an IPv6 host; Redis's endpoint wants the bare address.
        string host = uri.HostNameType == UriHostNameType.IPv6 ? uri.Host.Trim('[', ']') : uri.Host;
        return (host, port, user, password);
    }

    // ---- Nodes ----

    public void PutNode(NodeRecord node) => Wait(_db.HashSetAsync(_nodes, Field(node.NodeId), Pack(node)));

    public IReadOnlyList<NodeRecord> GetNodes() => [.. Wait(_db.HashValuesAsync(_nodes)).Select(Unpack<NodeRecord>)];

    // ---- Jobs ----

    public void PutJob(JobRecord job) => Wait(_db.HashSetAsync(_jobs, Field(job.JobId), Pack(job)));

    public JobRecord? GetJob(JobId id)
    {
        var value = Wait(_db.HashGetAsync(_jobs, Field(id)));
        return value.IsNull ? null : Unpack<JobRecord>(value);
    }

    public IReadOnlyList<JobRecord> GetJobs() =>
        [.. Wait(_db.HashValuesAsync(_jobs)).Select(Unpack<JobRecord>).OrderBy(j => j.StartTimeMs).ThenBy(j => j.JobId.Value)];

    public long NextJobCounter() => Wait(_db.StringIncrementAsync(_jobCounter));

    // ---- Actors ----

    public void PutActor(ActorInfo actor, WireTaskSpec creationTask) =>
        Wait(_db.HashSetAsync(_actors, Field(actor.ActorId), Pack(new ActorTableEntry(actor, creationTask))));

    public IReadOnlyList<(ActorInfo Actor, WireTaskSpec CreationTask)> GetActors() =>
        [.. Wait(_db.HashValuesAsync(_actors)).Select(Unpack<ActorTableEntry>).Select(e => (e.Actor, e.CreationTask))];

    // ---- Placement groups ----

    public void PutPlacementGroup(PlacementGroupTableData group) => Wait(_db.HashSetAsync(_placementGroups, Field(group.Spec.Id), Pack(group)));

    public void DeletePlacementGroup(PlacementGroupId id) => Wait(_db.HashDeleteAsync(_placementGroups, Field(id)));

    public IReadOnlyList<PlacementGroupTableData> GetPlacementGroups() =>
        [.. Wait(_db.HashValuesAsync(_placementGroups)).Select(Unpack<PlacementGroupTableData>).OrderBy(g => g.CreateTimeMs).ThenBy(g => g.Spec.Id.ToString(), StringComparer.Ordinal)];

    // ---- Internal KV ----

    public bool KvPut(string ns, string key, byte[] value, bool overwrite) =>
        // HSET answers whether the field is new; HSETNX sets only a new field, atomically.
        Wait(_db.HashSetAsync(KvKey(ns), key, value, overwrite ? When.Always : When.NotExists));

    public byte[]? KvGet(string ns, string key)
    {
        var value = Wait(_db.HashGetAsync(KvKey(ns), key));
        return value.IsNull ? null : (byte[])value!;
    }

    public bool KvDelete(string ns, string key) => Wait(_db.HashDeleteAsync(KvKey(ns), key));

    public IReadOnlyList<string> KvKeys(string ns, string prefix) =>
        [.. Wait(_db.HashKeysAsync(KvKey(ns))).Select(k => (string)k!).Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal)];

    private RedisKey KvKey(string ns) => _kvPrefix + ns;

    /// <summary>Waits for Redis's reply. Blocking on the Task (not through the client's synchronous calls) lets the
    /// thread pool see the blocked thread and add workers, so the reply, which a pool thread reads, is not starved by
    /// GCS handlers that all wait on Redis at once.</summary>
    private static T Wait<T>(Task<T> task) => task.GetAwaiter().GetResult();

    // ---- Encoding ----

    private static RedisValue Field(NodeId id) => id.ToString();
    private static RedisValue Field(JobId id) => id.ToString();
    private static RedisValue Field(ActorId id) => id.ToString();
    private static RedisValue Field(PlacementGroupId id) => id.ToString();

    private static RedisValue Pack<T>(T value) => MemoryPackSerializer.Serialize(value);

    private static T Unpack<T>(RedisValue value) where T : class =>
        MemoryPackSerializer.Deserialize<T>((byte[])value!)
        ?? throw new InvalidDataException($"A null {typeof(T).Name} in the Redis GCS tables.");

    public void Dispose() => _redis.Dispose();

    public ValueTask DisposeAsync() => _redis.DisposeAsync();

    public override string ToString() => $"RedisGcsTableStorage({Address}, {Namespace})";
}
