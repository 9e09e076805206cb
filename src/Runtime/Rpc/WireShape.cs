using System.Collections;
using System.Collections.Concurrent;
using System.Linq.Expressions;
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
/// its nullable annotations. The members are read through delegates compiled once per type (no reflection per
/// message), and an enum member is read as a number, so checking a message allocates nothing.
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
        if (type.IsDefined(typeof(MemoryPackableAttribute), false))
        {
            // A record with nothing to check (IDs, plain values) costs nothing to read.
            var record = new RecordShape(type);
            return record.IsEmpty ? TypeShape.Leaf : record;
        }
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

        public bool IsDefined(long value) => _defined.Contains(value);

        public string NotDefined(long value) => $"{value} is not a {type.Name}";

        public override string? Problem(object value, int depth)
        {
            long number = Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
            return IsDefined(number) ? null : NotDefined(number);
        }
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
        /// <summary>A member to check: an enum read as a number (<see cref="Number"/>), or anything else read as an object.</summary>
        private readonly record struct Member(string Name, Func<object, object?>? Value, Func<object, long>? Number, TypeShape Shape, bool Required);

        private readonly Member[] _members;

        public RecordShape(Type type)
        {
            var members = new List<Member>();
            foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                if (!p.CanRead || p.SetMethod is null || p.GetIndexParameters().Length > 0 || p.IsDefined(typeof(MemoryPackIgnoreAttribute))) continue;
                var (shape, required) = MemberShape(p);
                if (!required && shape == Leaf) continue;
                members.Add(p.PropertyType.IsEnum
                    ? new Member(p.Name, null, Compile<long>(p), shape, required)
                    : new Member(p.Name, Compile<object?>(p), null, shape, required));
            }
            _members = [.. members];
        }

        public bool IsEmpty => _members.Length == 0;

        /// <summary><c>(object o) =&gt; (TResult)((T)o).Property</c>, compiled once.</summary>
        private static Func<object, TResult> Compile<TResult>(PropertyInfo property)
        {
            var instance = Expression.Parameter(typeof(object), "message");
            var read = Expression.Property(Expression.Convert(instance, property.DeclaringType!), property);
            return Expression.Lambda<Func<object, TResult>>(Expression.Convert(read, typeof(TResult)), instance).Compile();
        }

        public override string? Problem(object value, int depth)
        {
            if (depth > MaxDepth) return "nested too deep";
            foreach (var m in _members)
            {
                if (m.Number is { } number)
                {
                    var e = (EnumShape)m.Shape;
                    long n = number(value);
                    if (!e.IsDefined(n)) return $"{m.Name}: {e.NotDefined(n)}";
                    continue;
                }
                var member = m.Value!(value);
                if (member is null)
                {
                    if (m.Required) return $"{m.Name} is missing";
                    continue;
                }
                if (m.Shape.Problem(member, depth + 1) is { } p) return $"{m.Name}: {p}";
            }
            return null;
        }
    }
}
