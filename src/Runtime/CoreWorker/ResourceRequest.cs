using System.Globalization;

namespace RaySharp.Core;

/// <summary>Turns the resource options of a task or actor into a <see cref="ResourceSet"/>, rejecting what Ray rejects.</summary>
internal static class ResourceRequest
{
    public static ResourceSet ForTask(string owner, double cpus, double gpus, long memory, IReadOnlyDictionary<string, double>? custom)
    {
        Check(owner, "NumCpus", cpus, wholeAboveOne: true);
        Check(owner, "NumGpus", gpus, wholeAboveOne: true);
        if (memory < 0) throw new ArgumentException($"{owner}: Memory is {memory}; it must be zero or positive.");
        var amounts = new List<KeyValuePair<string, double>>
        {
            new(ResourceSet.Cpu, cpus), new(ResourceSet.Gpu, gpus), new(ResourceSet.Memory, memory),
        };
        if (custom is not null)
            foreach (var (name, amount) in custom)
            {
                if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException($"{owner}: a custom resource has an empty name.");
                if (name is ResourceSet.Cpu or ResourceSet.Gpu)
                    throw new ArgumentException($"{owner}: use NumCpus/NumGpus instead of Resources[\"{name}\"].");
                Check(owner, $"Resources[\"{name}\"]", amount, wholeAboveOne: false);
                amounts.Add(new(name, amount));
            }
        return ResourceSet.From(amounts);
    }

    private static void Check(string owner, string what, double amount, bool wholeAboveOne)
    {
        if (double.IsNaN(amount) || double.IsInfinity(amount) || amount < 0)
            throw new ArgumentException($"{owner}: {what} is {amount.ToString(CultureInfo.InvariantCulture)}; it must be zero or positive.");
        if (wholeAboveOne && amount > 1 && amount != Math.Floor(amount))
            throw new ArgumentException(
                $"{owner}: {what} is {amount.ToString(CultureInfo.InvariantCulture)}; amounts above 1 must be whole numbers (fractions are allowed only up to 1).");
    }
}
