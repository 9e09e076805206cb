using System.Text.Json;
using RaySharp;

namespace AntiPatterns;

/// <summary>RAY012: a ref written as JSON or as the text of its ID is invisible to reference counting.</summary>
public static partial class OutOfBandTasks
{
    [RayRemote]
    public static byte[] Render(int page) => new byte[page];

    [RayRemote]
    public static int Publish(ObjectRef<byte[]> rendered) => rendered.Get().Length;
}

public static class OutOfBand
{
    // Bad: the ref goes out as JSON and its ID to a file. Once 'rendered' is collected the object can be
    // freed, although the JSON and the file still name it.
    public static string Bad(string path)
    {
        var rendered = OutOfBandTasks.Remote.Render(3);
        var json = JsonSerializer.Serialize(rendered);
        File.WriteAllText(path, rendered.Id.ToString());
        return json;
    }

    // Fixed: the ref travels as a task argument, which RaySharp counts until the task is done with it.
    public static int Fixed()
    {
        var rendered = OutOfBandTasks.Remote.Render(3);
        return OutOfBandTasks.Remote.Publish(rendered).Get();
    }
}
