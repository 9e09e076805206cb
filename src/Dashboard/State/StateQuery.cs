using System.Globalization;
using RaySharp.State;

namespace RaySharp.Dashboard.State;

/// <summary>
/// The query of a state list, with Ray's parameter names: <c>limit</c> (1 to <see cref="StateApi.MaxLimit"/>, default
/// <see cref="StateApi.DefaultLimit"/>) and the parallel lists <c>filter_keys</c>, <c>filter_predicates</c>
/// (<c>=</c> or <c>!=</c>; all <c>=</c> when absent) and <c>filter_values</c>, each given once per filter.
/// Other parameters Ray's clients send (<c>timeout</c>, <c>detail</c>) are accepted and ignored: rows always carry every field.
/// </summary>
internal sealed record StateQuery(int Limit, IReadOnlyList<StateFilter> Filters)
{
    /// <exception cref="ArgumentException">A limit that is not a whole number in range, lists of different lengths, an
    /// empty key or a predicate other than <c>=</c> and <c>!=</c>.</exception>
    public static StateQuery Parse(IQueryCollection query)
    {
        int limit = StateApi.DefaultLimit;
        if (query.TryGetValue("limit", out var limits))
        {
            if (limits.Count != 1 || !int.TryParse(limits[0], NumberStyles.None, CultureInfo.InvariantCulture, out limit) ||
                limit is < 1 or > StateApi.MaxLimit)
                throw new ArgumentException($"limit is a whole number from 1 to {StateApi.MaxLimit}, not '{string.Join(",", limits.ToArray())}'.");
        }
        var keys = query["filter_keys"];
        var values = query["filter_values"];
        var predicates = query["filter_predicates"];
        if (keys.Count != values.Count)
            throw new ArgumentException($"Each filter needs a key and a value: {keys.Count} filter_keys but {values.Count} filter_values.");
        if (predicates.Count != 0 && predicates.Count != keys.Count)
            throw new ArgumentException($"Give filter_predicates once per filter or not at all: {keys.Count} filter_keys but {predicates.Count} filter_predicates.");
        var filters = new List<StateFilter>(keys.Count);
        for (int i = 0; i < keys.Count; i++)
        {
            string key = keys[i]?.Trim() ?? "";
            if (key.Length == 0) throw new ArgumentException("A filter key is empty.");
            string predicate = predicates.Count == 0 ? "=" : predicates[i] ?? "";
            bool equal = predicate switch
            {
                "=" => true,
                "!=" => false,
                _ => throw new ArgumentException($"A filter predicate is '=' or '!=', not '{predicate}'."),
            };
            filters.Add(new StateFilter(key, values[i]?.Trim() ?? "", equal));
        }
        return new StateQuery(limit, filters);
    }
}
