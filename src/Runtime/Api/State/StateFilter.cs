using System.Text.Json;
using System.Text.Json.Nodes;

namespace RaySharp.State;

/// <summary>
/// A predicate of a state-API list (Ray's <c>--filter "key=value"</c>): the row's field <see cref="Key"/> (its JSON name,
/// e.g. <c>state</c>, <c>name</c>, <c>job_id</c>) equals <see cref="Value"/>, or with <see cref="Equal"/> false differs
/// from it, ignoring case.
/// </summary>
public sealed record StateFilter(string Key, string Value, bool Equal = true)
{
    /// <summary><c>KEY=VALUE</c> or <c>KEY!=VALUE</c>.</summary>
    /// <exception cref="ArgumentException">Neither form, or an empty key.</exception>
    public static StateFilter Parse(string filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        int at = filter.IndexOf('=', StringComparison.Ordinal);
        bool equal = at > 0 && filter[at - 1] != '!';
        string key = at <= 0 ? "" : filter[..(equal ? at : at - 1)].Trim();
        if (key.Length == 0) throw new ArgumentException($"A filter is KEY=VALUE or KEY!=VALUE, not '{filter}'.", nameof(filter));
        return new StateFilter(key, filter[(at + 1)..].Trim(), equal);
    }

    /// <summary>The filter as <see cref="Parse"/> reads it.</summary>
    public override string ToString() => $"{Key}{(Equal ? "=" : "!=")}{Value}";

    /// <summary>The rows that pass every filter, as their JSON (<see cref="StateApi.JsonOptions"/>) says. A key that is
    /// not a scalar field of the rows is an <see cref="ArgumentException"/> naming the fields there are.</summary>
    /// <summary>Throws the <see cref="ArgumentException"/> of <see cref="Apply{T}"/> when a filter names no field of
    /// <paramref name="sample"/>'s type, before a list is asked of the GCS.</summary>
    internal static void CheckKeys<T>(T sample, IReadOnlyList<StateFilter> filters, string what) => _ = Apply([sample], filters, what).Count();

    internal static IEnumerable<T> Apply<T>(IEnumerable<T> rows, IReadOnlyList<StateFilter> filters, string what) =>
        Apply(rows, static r => r, filters, what);

    /// <summary>The items whose row (<paramref name="project"/>) passes every filter.</summary>
    internal static IEnumerable<TItem> Apply<TItem, TRow>(IEnumerable<TItem> items, Func<TItem, TRow> project, IReadOnlyList<StateFilter> filters,
        string what) => filters.Count == 0 ? items : ApplyChecked(items, project, filters, what);

    private static IEnumerable<TItem> ApplyChecked<TItem, TRow>(IEnumerable<TItem> items, Func<TItem, TRow> project, IReadOnlyList<StateFilter> filters,
        string what)
    {
        bool checkedKeys = false;
        foreach (var item in items)
        {
            var json = JsonSerializer.SerializeToNode(project(item), StateApi.JsonOptions)!.AsObject();
            if (!checkedKeys)
            {
                foreach (var f in filters)
                    if (!json.TryGetPropertyValue(f.Key, out var value) || value is JsonObject or JsonArray)
                        throw new ArgumentException($"{what} have no field '{f.Key}' to filter on; use one of: " +
                            string.Join(", ", json.Where(p => p.Value is not (JsonObject or JsonArray)).Select(p => p.Key)) + ".");
                checkedKeys = true;
            }
            if (filters.All(f => f.Matches(json[f.Key]))) yield return item;
        }
    }

    private bool Matches(JsonNode? value)
    {
        string text = value switch
        {
            null => "",
            JsonValue v when v.TryGetValue(out string? s) => s,
            _ => value.ToJsonString(),
        };
        return string.Equals(text, Value, StringComparison.OrdinalIgnoreCase) == Equal;
    }
}
