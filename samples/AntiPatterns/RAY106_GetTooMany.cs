using RaySharp;

namespace AntiPatterns;

/// <summary>RAY106: one get of a list that grows without bound (Ray: "Fetching too many objects at once with ray.get").</summary>
public static partial class GetTooManyTasks
{
    [RayRemote]
    public static byte[] Parse(string line) => System.Text.Encoding.UTF8.GetBytes(line);
}

public static class GetTooMany
{
    // Bad: every parsed line of the file has to fit in this process's memory at the same time.
    public static long Bad(string path)
    {
        var refs = new List<ObjectRef<byte[]>>();
        foreach (var line in File.ReadLines(path))
        {
            refs.Add(GetTooManyTasks.Remote.Parse(line));
        }

        return Ray.Get(refs).Sum(bytes => (long)bytes.Length);
    }

    // Fixed: fetch in batches as they become ready; at most 100 results are held at once.
    public static long Fixed(string path)
    {
        long total = 0;
        var pending = new List<ObjectRef<byte[]>>();
        foreach (var line in File.ReadLines(path))
        {
            pending.Add(GetTooManyTasks.Remote.Parse(line));
            if (pending.Count >= 200)
            {
                var (ready, notReady) = Ray.Wait(pending, numReturns: 100);
                total += Ray.Get(ready).Sum(bytes => (long)bytes.Length);
                pending = notReady.ToList();
            }
        }

        return total + Ray.Get(pending).Sum(bytes => (long)bytes.Length);
    }
}
