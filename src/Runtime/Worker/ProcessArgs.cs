namespace RaySharp.Core.Worker;

/// <summary>The command line of the runtime's own processes (<c>node</c>, <c>gcs</c>): <c>--key value</c> options and bare
/// <c>--flag</c>s after the mode, and a run that turns a failure into one line on stderr and exit code 1.</summary>
internal static class ProcessArgs
{
    public static (Dictionary<string, string> Options, HashSet<string> Flags) Parse(string[] args)
    {
        var o = new Dictionary<string, string>();
        var flags = new HashSet<string>();
        for (int i = 1; i < args.Length; i++)
        {
            string key = args[i].TrimStart('-');
            if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) o[key] = args[++i];
            else flags.Add(key);
        }
        return (o, flags);
    }

    /// <param name="what">Names the process in the failure line (<c>[RaySharp node] failed: ...</c>).</param>
    /// <param name="args">The process's arguments, the mode first.</param>
    /// <param name="run">The process's work, with its options and flags.</param>
    public static int Run(string what, string[] args, Func<Dictionary<string, string>, HashSet<string>, Task<int>> run)
    {
        var (o, flags) = Parse(args);
        try
        {
            return run(o, flags).GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"[RaySharp {what}] failed: {e.Message}");
            return 1;
        }
    }
}
