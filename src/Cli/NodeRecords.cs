using System.Globalization;
using System.Text.Json;

namespace RaySharp.Cli;

/// <summary>The nodes <c>raysharp start</c> started on this machine, one JSON file each (pid, GCS address, node ID, role,
/// session directory, dashboard), for <c>stop</c> and for the commands that find the local cluster by themselves.</summary>
internal static class NodeRecords
{
    /// <summary>The role recorded for a GCS process of its own (beside "True" for a head node and "False" for the others).</summary>
    public const string GcsRole = "gcs";

    private static string Dir => Path.Combine(Path.GetTempPath(), "raysharp", "nodes");

    public static void Add(int pid, Dictionary<string, string> record)
    {
        record["pid"] = pid.ToString(CultureInfo.InvariantCulture);
        Directory.CreateDirectory(Dir);
        File.WriteAllText(Path.Combine(Dir, record["pid"] + ".json"), JsonSerializer.Serialize(record));
    }

    /// <summary>Every record, each with its <c>file</c>; unreadable ones are deleted.</summary>
    public static IEnumerable<Dictionary<string, string>> All()
    {
        if (!Directory.Exists(Dir)) yield break;
        foreach (var file in Directory.EnumerateFiles(Dir, "*.json"))
        {
            Dictionary<string, string>? record = null;
            try { record = JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(file)); }
            catch (JsonException) { }
            if (record is null) { File.Delete(file); continue; }
            record["file"] = file;
            yield return record;
        }
    }

    /// <summary>The GCS address of the head node started on this machine, if any.</summary>
    public static string? HeadGcs() => All().FirstOrDefault(r => r["head"] == bool.TrueString)?["gcs"];

    /// <summary>The dashboard of the head node started on this machine, if it has one.</summary>
    public static string? HeadDashboard() =>
        All().FirstOrDefault(r => r["head"] == bool.TrueString && r.GetValueOrDefault("dashboard") is { Length: > 0 })?["dashboard"];

    /// <summary>The session directories of the recorded processes serving the GCS at <paramref name="gcs"/>.</summary>
    public static IEnumerable<string> SessionsOf(string gcs) => All().Where(r => r["gcs"] == gcs).Select(r => r["session"]);
}
