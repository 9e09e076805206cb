using System.Collections.Frozen;
using System.Globalization;

namespace RaySharp.Core;

/// <summary>
/// An immutable bag of named resource amounts. Amounts are kept in fixed point (1/10000 units, as Ray does) so
/// that adding and subtracting fractional CPUs never drifts.
/// </summary>
internal sealed class ResourceSet : IEquatable<ResourceSet>
{
    public const string Cpu = "CPU";
    public const string Gpu = "GPU";
    public const string Memory = "memory";
    public const string ObjectStoreMemory = "object_store_memory";
    private const double Scale = 10_000;

    private readonly FrozenDictionary<string, long> _units;

    public static ResourceSet Empty { get; } = new(FrozenDictionary<string, long>.Empty);

    private ResourceSet(FrozenDictionary<string, long> units) => _units = units;

    public static ResourceSet From(IEnumerable<KeyValuePair<string, double>> amounts)
    {
        var units = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (name, amount) in amounts)
        {
            if (double.IsNaN(amount) || amount < 0)
                throw new ArgumentException($"Resource '{name}' has amount {amount.ToString(CultureInfo.InvariantCulture)}; amounts must be zero or positive.");
            long u = ToUnits(amount);
            if (u != 0) units[name] = units.GetValueOrDefault(name) + u;
        }
        return new ResourceSet(units.ToFrozenDictionary(StringComparer.Ordinal));
    }

    public static ResourceSet Of(params (string Name, double Amount)[] amounts) =>
        From(amounts.Select(a => new KeyValuePair<string, double>(a.Name, a.Amount)));

    public bool IsEmpty => _units.Count == 0;

    public double this[string name] => _units.TryGetValue(name, out var u) ? u / Scale : 0;

    public IEnumerable<string> Names => _units.Keys;

    /// <summary>True when every amount here is available in <paramref name="available"/>.</summary>
    public bool IsSubsetOf(ResourceSet available)
    {
        foreach (var (name, u) in _units)
            if (available._units.GetValueOrDefault(name) < u) return false;
        return true;
    }

    /// <summary>Whether <paramref name="available"/> lacks some of an amount here that <paramref name="held"/> has any of:
    /// giving back <paramref name="held"/> would bring this closer to fitting.</summary>
    public bool WouldGainFrom(ResourceSet held, ResourceSet available)
    {
        foreach (var (name, u) in _units)
            if (available._units.GetValueOrDefault(name) < u && held._units.GetValueOrDefault(name) > 0) return true;
        return false;
    }

    public ResourceSet Add(ResourceSet other) => Combine(other, +1);

    /// <summary>This minus <paramref name="other"/>; amounts may go negative (a blocked worker re-acquiring its CPU).</summary>
    public ResourceSet Subtract(ResourceSet other) => Combine(other, -1);

    public ResourceSet Only(string name) =>
        _units.TryGetValue(name, out var u) ? new ResourceSet(new Dictionary<string, long> { [name] = u }.ToFrozenDictionary()) : Empty;

    private ResourceSet Combine(ResourceSet other, int sign)
    {
        var units = new Dictionary<string, long>(_units, StringComparer.Ordinal);
        foreach (var (name, u) in other._units)
        {
            long v = units.GetValueOrDefault(name) + sign * u;
            if (v == 0) units.Remove(name); else units[name] = v;
        }
        return new ResourceSet(units.ToFrozenDictionary(StringComparer.Ordinal));
    }

    /// <summary>The amounts by name, as a new dictionary (the wire form).</summary>
    public Dictionary<string, double> ToDictionary()
    {
        var amounts = new Dictionary<string, double>(_units.Count, StringComparer.Ordinal);
        foreach (var (name, u) in _units) amounts[name] = u / Scale;
        return amounts;
    }

    private Dictionary<string, double>? _wire;

    /// <summary>
    /// <see cref="ToDictionary"/> made once and shared by every message that carries this set (a task's spec and its
    /// task-event info are built per call, its resources once per options object). Only ever serialized: whoever needs
    /// to change the amounts copies them first.
    /// </summary>
    public Dictionary<string, double> SharedWireDictionary => _wire ??= ToDictionary();

    private static long ToUnits(double amount) => (long)Math.Round(amount * Scale, MidpointRounding.AwayFromZero);

    public bool Equals(ResourceSet? other)
    {
        if (ReferenceEquals(this, other)) return true;
        if (other is null || other._units.Count != _units.Count) return false;
        foreach (var (name, u) in _units)
            if (!other._units.TryGetValue(name, out var v) || v != u) return false;
        return true;
    }

    public override bool Equals(object? obj) => Equals(obj as ResourceSet);

    private int _hash; // 0: not computed yet (the set never changes)

    public override int GetHashCode()
    {
        if (_hash != 0) return _hash;
        int h = 0;
        foreach (var (name, u) in _units) h ^= HashCode.Combine(name, u); // order-independent, as equality is
        return _hash = h == 0 ? 1 : h;
    }

    public override string ToString() =>
        "{" + string.Join(", ", _units.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => $"{kv.Key}: {(kv.Value / Scale).ToString(CultureInfo.InvariantCulture)}")) + "}";
}
