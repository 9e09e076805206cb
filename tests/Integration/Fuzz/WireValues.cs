using System.Collections;
using System.Reflection;
using MemoryPack;

namespace RaySharp.Integration.Fuzz;

/// <summary>
/// Random well-formed values of RaySharp's wire messages (any [MemoryPackable] record), built from their declared
/// members, and mutations of one member somewhere in a message into what a handler must refuse or survive: a missing
/// sub-message, an oversized string or array, an enum value out of range, a NaN or negative amount, a nil ID.
/// </summary>
internal sealed class WireValues(Random random)
{
    private static readonly NullabilityInfoContext s_nullability = new();

    public object Generate(Type type) => Generate(type, nullable: false, depth: 0)!;

    private object? Generate(Type type, bool nullable, int depth)
    {
        if (nullable && !type.IsValueType && random.Next(3) == 0) return null;
        if (Nullable.GetUnderlyingType(type) is { } underlying) return random.Next(2) == 0 ? null : Generate(underlying, false, depth);
        if (type == typeof(string)) return Text(random.Next(1, 12));
        if (type == typeof(byte[])) return Bytes(random.Next(0, 24));
        if (type == typeof(bool)) return random.Next(2) == 0;
        if (type == typeof(byte)) return (byte)random.Next(256);
        if (type == typeof(int)) return random.Next(0, 8);
        if (type == typeof(long)) return (long)random.Next(0, 5000);
        if (type == typeof(ulong)) return (ulong)random.NextInt64();
        if (type == typeof(uint)) return (uint)random.Next();
        if (type == typeof(double)) return Math.Round(random.NextDouble() * 4, 2);
        if (type.IsEnum)
        {
            var values = Enum.GetValues(type);
            return values.GetValue(random.Next(values.Length));
        }
        if (type.IsValueType) return RandomStruct(type);
        if (type.IsArray)
        {
            var element = type.GetElementType()!;
            var array = Array.CreateInstance(element, depth > 4 ? 0 : random.Next(0, 4));
            for (int i = 0; i < array.Length; i++) array.SetValue(Generate(element, false, depth + 1), i);
            return array;
        }
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            var dict = (IDictionary)Activator.CreateInstance(type)!;
            var args = type.GetGenericArguments();
            for (int i = depth > 4 ? 0 : random.Next(0, 4); i > 0; i--)
            {
                var key = Generate(args[0], false, depth + 1)!;
                if (!dict.Contains(key)) dict[key] = Generate(args[1], false, depth + 1);
            }
            return dict;
        }
        return Record(type, depth);
    }

    /// <summary>A record through its widest constructor, then every other settable member.</summary>
    private object Record(Type type, int depth)
    {
        var ctor = type.GetConstructors(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)
            .Where(c => !c.GetParameters().Any(p => p.ParameterType == type)) // not the record's copy constructor
            .OrderByDescending(c => c.GetParameters().Length).First();
        var args = ctor.GetParameters().Select(p => Generate(p.ParameterType, IsNullable(p), depth + 1)).ToArray();
        var value = ctor.Invoke(args);
        var set = ctor.GetParameters().Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var property in Members(type))
            if (!set.Contains(property.Name))
                property.SetValue(value, Generate(property.PropertyType, IsNullable(property), depth + 1));
        return value;
    }

    /// <summary>The members MemoryPack writes.</summary>
    public static IEnumerable<PropertyInfo> Members(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanRead && p.SetMethod is not null && p.GetIndexParameters().Length == 0 && !p.IsDefined(typeof(MemoryPackIgnoreAttribute)));

    private static bool IsNullable(ParameterInfo p)
    {
        lock (s_nullability) return s_nullability.Create(p).WriteState == NullabilityState.Nullable;
    }

    private static bool IsNullable(PropertyInfo p)
    {
        lock (s_nullability) return s_nullability.Create(p).WriteState == NullabilityState.Nullable;
    }

    /// <summary>An unmanaged struct (an ID) from random bytes: MemoryPack writes such a struct as its raw bytes.</summary>
    private object RandomStruct(Type type) => Struct(type, Bytes(SizeOf(type)));

    private static int SizeOf(Type type) => (int)s_sizeOf.MakeGenericMethod(type).Invoke(null, null)!;

    private static object Struct(Type type, byte[] bytes) => s_read.MakeGenericMethod(type).Invoke(null, [bytes])!;

    private static readonly MethodInfo s_sizeOf = typeof(System.Runtime.CompilerServices.Unsafe).GetMethod(nameof(System.Runtime.CompilerServices.Unsafe.SizeOf))!;
    private static readonly MethodInfo s_read = typeof(WireValues).GetMethod(nameof(Read), BindingFlags.NonPublic | BindingFlags.Static)!;

    private static T Read<T>(byte[] bytes) where T : unmanaged => System.Runtime.InteropServices.MemoryMarshal.Read<T>(bytes);

    public string Text(int length)
    {
        const string chars = "abcdefghijklmnopqrstuvwxyz0123456789_-.:/";
        return string.Create(length, random, (span, r) =>
        {
            for (int i = 0; i < span.Length; i++) span[i] = chars[r.Next(chars.Length)];
        });
    }

    public byte[] Bytes(int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>Changes one member somewhere in <paramref name="message"/> (in place) into a malformed value; returns what
    /// it did, or null if the message has no member to change.</summary>
    public string? Mutate(object message)
    {
        var slots = new List<(object Owner, PropertyInfo Property)>();
        Collect(message, slots, 0);
        if (slots.Count == 0) return null;
        var (owner, property) = slots[random.Next(slots.Count)];
        var type = property.PropertyType;
        object? bad = Malformed(type, property.GetValue(owner));
        property.SetValue(owner, bad);
        return $"{property.DeclaringType!.Name}.{property.Name}";
    }

    private static void Collect(object value, List<(object, PropertyInfo)> slots, int depth)
    {
        if (depth > 8) return;
        var type = value.GetType();
        if (!type.IsDefined(typeof(MemoryPackableAttribute), false)) return;
        foreach (var p in Members(type))
        {
            slots.Add((value, p));
            var member = p.GetValue(value);
            if (member is null || member is string || member is byte[]) continue;
            // Into small collections only: the elements of a huge one (made by an earlier mutation) are one shared
            // instance, and making a member of it huge too would multiply the message's size.
            if (member is ICollection { Count: > 16 }) continue;
            if (member is IDictionary d)
            {
                foreach (var v in d.Values) if (v is not null) Collect(v, slots, depth + 1);
            }
            else if (member is Array a)
            {
                foreach (var v in a) if (v is not null) Collect(v, slots, depth + 1);
            }
            else
            {
                Collect(member, slots, depth + 1);
            }
        }
    }

    private object? Malformed(Type type, object? current)
    {
        if (Nullable.GetUnderlyingType(type) is { } underlying)
            return random.Next(3) == 0 ? null : Malformed(underlying, current);
        if (type == typeof(string))
            return random.Next(4) == 0 ? null : Text(Huge());
        if (type == typeof(byte[]))
            return random.Next(4) == 0 ? null : Bytes(Huge());
        if (type == typeof(int)) return Pick(int.MinValue, -1, int.MaxValue, 1 << 30, -100);
        if (type == typeof(long)) return Pick(long.MinValue, -1L, long.MaxValue, 1L << 40, -4096L);
        if (type == typeof(ulong)) return Pick(0UL, ulong.MaxValue);
        if (type == typeof(uint)) return Pick(0U, uint.MaxValue);
        if (type == typeof(double)) return Pick(double.NaN, double.PositiveInfinity, double.NegativeInfinity, -1.0, 1e300, double.Epsilon);
        if (type == typeof(bool)) return !(bool)(current ?? false);
        if (type == typeof(byte)) return (byte)255;
        if (type.IsEnum) return Enum.ToObject(type, Pick(77, 200, 255));
        if (type.IsValueType)
        {
            var bytes = new byte[SizeOf(type)];
            if (random.Next(2) == 0) Array.Fill(bytes, (byte)0xFF);
            return Struct(type, bytes);
        }
        if (random.Next(3) == 0) return null;
        if (type.IsArray)
        {
            // Many elements: repeated copies of one generated element (or nulls, which the shape check refuses).
            var element = type.GetElementType()!;
            int count = random.Next(4) == 0 ? 200_000 : random.Next(5_000, 30_000);
            var array = Array.CreateInstance(element, count);
            var one = random.Next(4) == 0 ? null : Generate(element, false, 6);
            if (one is not null) for (int i = 0; i < count; i++) array.SetValue(one, i);
            return array;
        }
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            var dict = (IDictionary)Activator.CreateInstance(type)!;
            var args = type.GetGenericArguments();
            if (random.Next(2) == 0 && args[0] == typeof(string))
            {
                for (int i = 0; i < 5_000; i++) dict[$"k{i}"] = args[1] == typeof(double) ? 1.0 : Generate(args[1], false, 6);
            }
            else if (args[0] == typeof(string) && args[1] == typeof(double))
            {
                dict[random.Next(2) == 0 ? "CPU" : Text(random.Next(1, 6))] = Pick(double.NaN, double.PositiveInfinity, -1.0, 1e300);
                if (random.Next(3) == 0) dict[""] = 1.0;
            }
            else
            {
                dict[Generate(args[0], false, 6)!] = random.Next(2) == 0 ? null : Malformed(args[1], null);
            }
            return dict;
        }
        return null;
    }

    /// <summary>Mostly past the names' limit, now and then megabytes.</summary>
    private int Huge() => random.Next(20) switch
    {
        0 => 1_500_000,
        < 6 => 70_000,
        _ => 5_000,
    };

    private T Pick<T>(params T[] values) => values[random.Next(values.Length)];
}
