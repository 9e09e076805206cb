using Xunit;
using Verify = RaySharp.Analyzers.Tests.Verifiers.GeneratedProxyVerifier<RaySharp.Analyzers.AntiPatterns.RemoteCodeAnalyzer>;

namespace RaySharp.Analyzers.Tests;

/// <summary>RAY111 (remote code using mutable static state) and RAY113 (remote code starting a runtime or a process).</summary>
public class RemoteCodeTests
{
    // ---- RAY111 raises ----

    [Fact]
    public Task Actor_writes_a_static_counter() => Verify.VerifyAsync("""
        [RayRemote]
        public partial class Counter
        {
            private static int s_total;

            public int Increment() => ++{|#0:s_total|};

            public void Add(int n) => {|#1:s_total|} += n;
        }
        """,
        Verify.Warning("RAY111").WithLocation(0).WithMessage(
            "Remote method 'Counter.Increment' writes static field 'Counter.s_total': each worker process has its own copy, so the driver and other workers never see the change; keep shared state in an actor"),
        Verify.Warning("RAY111").WithLocation(1).WithArguments("Counter.Add", "writes", "field", "Counter.s_total"));

    [Fact]
    public Task Task_reads_a_global_the_driver_sets() => Verify.VerifyAsync("""
        public static class Settings
        {
            public static int Threshold = 10;
            public static string Mode { get; set; } = "fast";
        }

        public static partial class Filters
        {
            [RayRemote]
            public static bool Keep(int x) => x > {|#0:Settings.Threshold|} && {|#1:Settings.Mode|} == "fast";
        }
        """,
        Verify.Warning("RAY111").WithLocation(0).WithArguments("Filters.Keep", "reads", "field", "Settings.Threshold"),
        Verify.Warning("RAY111").WithLocation(1).WithArguments("Filters.Keep", "reads", "property", "Settings.Mode"));

    [Fact]
    public Task Task_fills_a_static_readonly_cache() => Verify.VerifyAsync("""
        public static partial class Lookup
        {
            private static readonly Dictionary<string, int> Cache = new();
            private static readonly List<string> Seen = new();

            [RayRemote]
            public static int Find(string key)
            {
                {|#0:Seen.Add(key)|};
                return {|#1:Cache[key]|} = key.Length;
            }
        }
        """,
        Verify.Warning("RAY111").WithLocation(0).WithArguments("Lookup.Find", "changes the contents of", "field", "Lookup.Seen"),
        Verify.Warning("RAY111").WithLocation(1).WithArguments("Lookup.Find", "changes the contents of", "field", "Lookup.Cache"));

    // ---- RAY111 stays silent ----

    [Fact]
    public Task Constants_readonly_values_and_instance_state_are_fine() => Verify.VerifyAsync("""
        [RayRemote]
        public partial class Counter
        {
            private const int Step = 1;
            private static readonly TimeSpan Period = TimeSpan.FromSeconds(1);
            private static readonly Dictionary<string, int> Defaults = new() { ["a"] = 1 };
            private int _count;

            public int Increment() => _count += Step + Period.Seconds + Defaults["a"] + Defaults.Count;
        }
        """);

    [Fact]
    public Task Static_state_outside_remote_code_is_not_this_rule() => Verify.VerifyAsync("""
        public static partial class Driver
        {
            private static int s_submitted;
            public static int Limit = 5;

            public static ObjectRef<int> Submit(int x)
            {
                s_submitted++;
                return Driver.Remote.Square(x + Limit);
            }

            [RayRemote]
            public static int Square(int x) => x * x;
        }
        """);

    [Fact]
    public Task Reading_a_private_static_nothing_else_can_set_is_fine() => Verify.VerifyAsync("""
        public static partial class Jobs
        {
            private static int s_seed = 42;
            private static string Prefix { get; set; } = "job";

            [RayRemote]
            public static string Name(int x) => Prefix + (x + s_seed) + Jobs.Remote.ToString() + Environment.ProcessorCount;
        }
        """);

    // ---- RAY113 raises ----

    [Fact]
    public Task Task_initializes_ray() => Verify.VerifyAsync("""
        public static partial class Jobs
        {
            [RayRemote]
            public static int Nested(int x)
            {
                using var ray = {|#0:Ray.Init()|};
                return x;
            }
        }
        """,
        Verify.Warning("RAY113").WithLocation(0).WithMessage(
            "Remote method 'Jobs.Nested' calls 'Ray.Init': the worker is already connected to the cluster; submit tasks and create actors from here directly"));

    [Fact]
    public Task Actor_forks_a_process() => Verify.VerifyAsync("""
        [RayRemote]
        public partial class Shell
        {
            public Shell() => {|#0:System.Diagnostics.Process.Start("warmup")|};

            public async Task<int> Run(string command)
            {
                var ray = await {|#1:Ray.InitAsync()|};
                using var p = new System.Diagnostics.Process();
                p.StartInfo.FileName = command;
                {|#2:p.Start()|};
                return 0;
            }
        }
        """,
        Verify.Warning("RAY113").WithLocation(0).WithArguments("Shell constructor", "Process.Start",
            "a process Ray does not know about escapes its resource accounting and outlives failures; run the work as a task or an actor"),
        Verify.Warning("RAY113").WithLocation(1).WithArguments("Shell.Run", "Ray.InitAsync",
            "the worker is already connected to the cluster; submit tasks and create actors from here directly"),
        Verify.Warning("RAY113").WithLocation(2).WithArguments("Shell.Run", "Process.Start",
            "a process Ray does not know about escapes its resource accounting and outlives failures; run the work as a task or an actor"));

    // ---- RAY113 stays silent ----

    [Fact]
    public Task The_driver_initializes_ray() => Verify.VerifyAsync("""
        public static partial class Program
        {
            public static int Main()
            {
                using var ray = Ray.Init();
                System.Diagnostics.Process.Start("dotnet", "--info");
                return Program.Remote.Square(2).Get();
            }

            [RayRemote]
            public static int Square(int x) => x * x;
        }
        """);

    [Fact]
    public Task Remote_code_submitting_tasks_and_creating_actors_is_fine() => Verify.VerifyAsync("""
        public static partial class Jobs
        {
            [RayRemote]
            public static int Fan(int n)
            {
                var refs = new List<ObjectRef<int>>();
                for (var i = 0; i < n; i++) refs.Add(Jobs.Remote.Square(i));
                var counter = Counter.Remote.Create();
                counter.Increment();
                return Ray.Get(refs).Sum() + (Ray.IsInitialized ? 1 : 0);
            }

            [RayRemote]
            public static int Square(int x) => x * x;
        }

        [RayRemote]
        public partial class Counter
        {
            private int _count;
            public int Increment() => ++_count;
        }
        """);

    [Fact]
    public Task A_non_remote_helper_and_a_process_lookup_are_fine() => Verify.VerifyAsync("""
        [RayRemote]
        public partial class Worker
        {
            public int Id() => System.Diagnostics.Process.GetCurrentProcess().Id;

            private static RayContext StartLocal() => Ray.Init(new RayOptions { LocalMode = true });

            internal void Restart() => System.Diagnostics.Process.Start("worker");
        }
        """);
}
