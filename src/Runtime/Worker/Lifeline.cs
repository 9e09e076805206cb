namespace RaySharp.Core.Worker;

/// <summary>A child process's tie to its parent: stdin is a pipe from the parent, and end-of-file means the parent is
/// gone (exited or killed), so the child must go too — no orphans even when the parent cannot clean up.</summary>
internal static class Lifeline
{
    public static void Start(Action onParentGone) =>
        new Thread(() =>
        {
            try
            {
                var stdin = Console.OpenStandardInput();
                var buffer = new byte[64];
                while (stdin.Read(buffer, 0, buffer.Length) > 0) { }
            }
            catch (IOException)
            {
            }
            onParentGone();
        }) { IsBackground = true, Name = "RaySharp lifeline" }.Start();
}
