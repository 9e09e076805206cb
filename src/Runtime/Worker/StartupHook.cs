using RaySharp.Core.Raylet;
using RaySharp.Core.Worker;

/// <summary>
/// RaySharp's entry into a program started in its mode (<see cref="WorkerCommand"/>): the runtime calls
/// <see cref="Initialize"/> before the program's <c>Main</c> because <c>DOTNET_STARTUP_HOOKS</c> names this assembly. With
/// <c>RAYSHARP_WORKER_MODE=1</c> it runs the worker, node or GCS its command line names and ends the process, so the
/// program's own <c>Main</c> never runs; without it (the variable leaked into another program) it does nothing. The
/// runtime looks the hook up by this exact name, outside any namespace.
/// </summary>
internal static class StartupHook
{
    internal static void Initialize()
    {
        if (Environment.GetEnvironmentVariable(WorkerCommand.ModeVariable) != "1") return;
        WorkerCommand.LeaveMode();
        Environment.Exit(WorkerMain.Main(Environment.GetCommandLineArgs()[1..]));
    }
}
