using System.Collections;
using System.Collections.Concurrent;
using System.Reflection;
using Grpc.Core;
using MemoryPack;

namespace RaySharp.Core.Rpc;

/// <summary>
/// The shape every decoded message must have before a handler sees it: MemoryPack writes a null for any reference and
/// any enum value for an enum, so a peer can send a <c>WireLeaseRequest</c> without its strategy or a task of type 7.
/// Each member the message declares non-nullable must be present (in nested records, array elements and dictionary
/// values too), and each enum must hold a defined value; anything else is refused with
/// <see cref="StatusCode.InvalidArgument"/> naming the member. What values are sensible (sizes, counts, amounts) is
/// each handler's check (<see cref="WireValidation"/>); this is the one every message gets, decided per type once from
/// its nullable annotations.
/// </summary>
internal static class WireShape
{
    private static readonly ConcurrentDictionary<Type, TypeShape> s_shapes = new();
    private static readonly NullabilityInfoContext s_nullability = new();
    private static readonly Lock s_nullabilityLock = new();

    /// <summary>Throws <see cref="RpcException"/> (InvalidArgument) unless <paramref name="message"/> has its shape.</summary>
    public static void Check<T>(T? message)
    {
        if (message is null) throw WireValidation.Invalid($"Malformed {typeof(T).Name}: the message is null.");
        if (Problem(message, typeof(T)) is { } problem) throw WireValidation.Invalid($"Malformed {typeof(T).Name}: {problem}.");
    }

    /// <summary>What is wrong with <paramref name="message"/>'s shape, or null.</summary>
    public static string? Problem(object message, Type declared) => Of(declared).Problem(message, depth: 0);

    /// <summary>Far deeper than any message type nests (none refers to itself).</summary>
    private const int MaxDepth = 32;

    private static TypeShape Of(Type type) => s_shapes.GetOrAdd(type, Build);

    private static TypeShape Build(Type type)
    {
        if (type.IsEnum) return new EnumShape(type);
        if (Nullable.GetUnderlyingType(type) is { IsEnum: true } e) return new EnumShape(e);
        if (type == typeof(string) || type == typeof(byte[]) || type.IsPrimitive || Nullable.GetUnderlyingType(type) is not null ||
            type.IsValueType && !type.IsDefined(typeof(MemoryPackableAttribute), false))
            return TypeShape.Leaf;
        if (type.IsArray)
            return ElementsOf(type.GetElementType()!, elementNullable: null);
        if (type.IsGenericType && type.GetGenericTypeDefinition() is var def && (def == typeof(Dictionary<,>) || def == typeof(List<>)))
            return ElementsOf(type.GetGenericArguments()[^1], elementNullable: null);
        if (type.IsDefined(typeof(MemoryPackableAttribute), false)) return new RecordShape(type);
        return TypeShape.Leaf;
    }

    private static TypeShape ElementsOf(Type element, bool? elementNullable)
    {
        var inner = Of(element);
        bool checkNull = !element.IsValueType && elementNullable == false;
        return inner == TypeShape.Leaf && !checkNull ? TypeShape.Leaf : new CollectionShape(inner, checkNull);
    }

    /// <summary>A member's shape with its annotations: a non-nullable reference must be there, and so must a non-nullable
    /// element of a collection.</summary>
    private static (TypeShape Shape, bool Required) MemberShape(PropertyInfo property)
    {
        NullabilityInfo info;
        lock (s_nullabilityLock) info = s_nullability.Create(property);
        var type = property.PropertyType;
        bool required = !type.IsValueType && info.ReadState == NullabilityState.NotNull;
        TypeShape shape;
        if (type.IsArray && info.ElementType is { } element)
            shape = ElementsOf(type.GetElementType()!, element.ReadState == NullabilityState.Nullable);
        else if (type.IsGenericType && info.GenericTypeArguments.Length > 0 &&
                 type.GetGenericTypeDefinition() is var def && (def == typeof(Dictionary<,>) || def == typeof(List<>)))
            shape = ElementsOf(type.GetGenericArguments()[^1], info.GenericTypeArguments[^1].ReadState == NullabilityState.Nullable);
        else
            shape = Of(type);
        return (shape, required);
    }

    private class TypeShape
    {
        public static readonly TypeShape Leaf = new();

        public virtual string? Problem(object value, int depth) => null;
    }

    private sealed class EnumShape(Type type) : TypeShape
    {
        private readonly HashSet<long> _defined = [.. Enum.GetValues(type).Cast<object>().Select(v => Convert.ToInt64(v, System.Globalization.CultureInfo.InvariantCulture))];

        public override string? Problem(object value, int depth) =>
            _defined.Contains(Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture)) ? null : $"{value} is not a {type.Name}";
    }

    private sealed class CollectionShape(TypeShape element, bool checkNull) : TypeShape
    {
        public override string? Problem(object value, int depth)
        {
            int i = 0;
            foreach (var item in value is IDictionary d ? d.Values : (IEnumerable)value)
            {
                if (item is null)
                {
                    if (checkNull) return $"element {i} is missing";
                }
                else if (element.Problem(item, depth) is { } p)
                {
                    return $"element {i}: {p}";
                }
                i++;
            }
            return null;
        }
    }

    /// <summary>A [MemoryPackable] record: the members MemoryPack writes (settable, not ignored).</summary>
    private sealed class RecordShape : TypeShape
    {
        private readonly (PropertyInfo Property, TypeShape Shape, bool Required)[] _members;

        public RecordShape(Type type)
        {
            var members = new List<(PropertyInfo, TypeShape, bool)>();
            foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                if (!p.CanRead || p.SetMethod is null || p.GetIndexParameters().Length > 0 || p.IsDefined(typeof(MemoryPackIgnoreAttribute))) continue;
                var (shape, required) = MemberShape(p);
                if (required || shape != Leaf) members.Add((p, shape, required));
            }
            _members = [.. members];
        }

        public override string? Problem(object value, int depth)
        {
            if (depth > MaxDepth) return "nested too deep";
            foreach (var (property, shape, required) in _members)
            {
                var member = property.GetValue(value);
                if (member is null)
                {
                    if (required) return $"{property.Name} is missing";
                    continue;
                }
                if (shape.Problem(member, depth + 1) is { } p) return $"{property.Name}: {p}";
            }
            return null;
        }
    }
}
