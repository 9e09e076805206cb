using RaySharp.Core.Raylet;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>How a worker, node or GCS process is started: the job's program in RaySharp's mode (docs/packages.md).</summary>
public sealed class WorkerCommandTests
{
    private const string Code = "/srv/app";

    [Fact]
    public void An_assembly_runs_under_dotnet_exec_with_the_runtime_config_and_the_hook()
    {
        var psi = WorkerCommand.StartInfo("App.dll", Code, "/s/worker.runtimeconfig.json", ["worker", "--worker-id", "w1"]);

        Assert.Equal(ProcessWorkerLauncher.DotnetHost(), psi.FileName);
        Assert.Equal(["exec", "--runtimeconfig", "/s/worker.runtimeconfig.json", "/srv/app/App.dll", "worker", "--worker-id", "w1"], psi.ArgumentList);
        Assert.Equal("1", psi.Environment[WorkerCommand.ModeVariable]);
        Assert.EndsWith("RaySharp.Runtime", psi.Environment[WorkerCommand.HooksVariable], StringComparison.Ordinal);
    }

    [Fact]
    public void An_executable_runs_as_it_is_and_an_absolute_program_ignores_the_code_directory()
    {
        var psi = WorkerCommand.StartInfo("/opt/published/App", Code, "/s/rc.json", ["node", "--head"]);

        Assert.Equal("/opt/published/App", psi.FileName);
        Assert.Equal(["node", "--head"], psi.ArgumentList);
    }

    [Fact]
    public void The_users_startup_hooks_run_first_and_stay_when_a_process_leaves_the_mode()
    {
        string sep = Path.PathSeparator.ToString();
        Assert.Equal("RaySharp.Runtime", WorkerCommand.WithHook(null));
        Assert.Equal("/hooks/Profiler.dll" + sep + "RaySharp.Runtime", WorkerCommand.WithHook("/hooks/Profiler.dll"));
        // Started again from a process that was itself in the mode: RaySharp's hook is listed once.
        Assert.Equal("/hooks/Profiler.dll" + sep + "RaySharp.Runtime", WorkerCommand.WithHook("/hooks/Profiler.dll" + sep + "RaySharp.Runtime"));

        Assert.Equal("/hooks/Profiler.dll", WorkerCommand.WithoutHook("/hooks/Profiler.dll" + sep + "RaySharp.Runtime"));
        Assert.Null(WorkerCommand.WithoutHook("RaySharp.Runtime"));
        Assert.Null(WorkerCommand.WithoutHook(null));
    }

    [Fact]
    public void This_test_hosts_program_is_its_entry_assembly_relative_to_its_directory()
    {
        // dotnet test runs the test host as `dotnet exec testhost.dll`: the program is that assembly, found beside the tests.
        string? program = WorkerCommand.ThisProgram(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));

        Assert.NotNull(program);
        Assert.False(Path.IsPathRooted(program), program);
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, program)), program);
        // Seen from a directory it is not in, the program is named by its absolute path.
        Assert.True(Path.IsPathRooted(WorkerCommand.ThisProgram("/nowhere/else")));
    }
}
