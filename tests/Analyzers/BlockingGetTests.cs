using RaySharp.Analyzers.CodeFixes;
using Xunit;
using Verify = RaySharp.Analyzers.Tests.Verifiers.GeneratedProxyVerifier<RaySharp.Analyzers.AntiPatterns.BlockingGetAnalyzer>;

namespace RaySharp.Analyzers.Tests;

/// <summary>RAY114 (blocking get/wait in async code, with its await fix) and RAY121 (a sync actor blocking on its own class).</summary>
public class BlockingGetTests
{
    private const string Jobs = """

        public static partial class Jobs
        {
            [RayRemote]
            public static int Square(int x) => x * x;
        }
        """;

    private const string Node = """

        [RayRemote]
        public partial class Node
        {
            private ActorHandle<Node>? _self;
            private readonly List<ActorHandle<Node>> _peers = new();

            public void SetSelf(ActorHandle<Node> self) => _self = self;

            public int Value() => 1;
        """;

    // ---- RAY114 raises ----

    [Fact]
    public Task Ray_get_in_async_method() => Verify.VerifyAsync("""
        public static class Driver
        {
            public static async Task<int> SumAsync()
            {
                var r = Jobs.Remote.Square(3);
                await Task.Yield();
                return {|#0:Ray.Get(r)|};
            }
        }
        """ + Jobs,
        Verify.Warning("RAY114").WithLocation(0).WithMessage(
            "'Ray.Get' blocks a thread inside async method 'Driver.SumAsync': await the ref instead"));

    [Fact]
    public Task Ref_get_in_async_lambda() => Verify.VerifyAsync("""
        public static class Driver
        {
            public static Func<Task<int>> Later(ObjectRef<int> r) => async () =>
            {
                await Task.Delay(1);
                return {|#0:r.Get()|} + 1;
            };
        }
        """ + Jobs,
        Verify.Warning("RAY114").WithLocation(0).WithMessage(
            "'.Get()' blocks a thread inside an async lambda in 'Driver.Later': await the ref instead"));

    [Fact]
    public Task Ray_wait_and_task_result_in_async_local_function() => Verify.VerifyAsync("""
        public static class Driver
        {
            public static Task<int> RunAsync(List<ObjectRef<int>> refs)
            {
                return Inner();

                async Task<int> Inner()
                {
                    var (ready, _) = {|#0:Ray.Wait(refs, numReturns: 1)|};
                    await Task.Yield();
                    return {|#1:ready[0].AsTask().Result|};
                }
            }
        }
        """ + Jobs,
        Verify.Warning("RAY114").WithLocation(0).WithMessage(
            "'Ray.Wait' blocks a thread inside async local function 'Inner': use 'await Ray.WaitAsync(...)' instead"),
        Verify.Warning("RAY114").WithLocation(1).WithMessage(
            "'.Result' blocks a thread inside async local function 'Inner': await the task instead"));

    [Fact]
    public Task Sync_method_of_actor_with_async_methods() => Verify.VerifyAsync("""
        [RayRemote]
        public partial class Cache
        {
            public async Task<int> LoadAsync() { await Task.Delay(1); return 1; }

            public int[] Warm(List<ObjectRef<int>> refs) => {|#0:Ray.Get(refs)|};
        }
        """,
        Verify.Warning("RAY114").WithLocation(0).WithMessage(
            "'Ray.Get' blocks a thread inside 'Cache.Warm', a method of actor 'Cache' that has async methods: make the method async and await instead"));

    // ---- RAY114 stays silent ----

    [Fact]
    public Task Blocking_get_in_sync_driver_code_is_fine() => Verify.VerifyAsync("""
        public static class Driver
        {
            public static int Sum(List<ObjectRef<int>> refs) => Ray.Get(refs).Sum() + Ray.Get(refs[0]) + refs[1].Get();
        }
        """ + Jobs);

    [Fact]
    public Task Await_and_get_async_are_fine() => Verify.VerifyAsync("""
        public static class Driver
        {
            public static async Task<int> SumAsync(List<ObjectRef<int>> refs)
            {
                var all = await Ray.GetAsync(refs);
                var (ready, _) = await Ray.WaitAsync(refs);
                return all.Sum() + await refs[0] + await ready[0].AsTask();
            }
        }
        """ + Jobs);

    [Fact]
    public Task Get_inside_a_sync_lambda_run_off_thread_is_fine() => Verify.VerifyAsync("""
        public static class Driver
        {
            public static async Task<int> SumAsync(ObjectRef<int> r)
            {
                var fromPool = await Task.Run(() => r.Get() + Ray.Get(r));
                var other = Task.FromResult(2).Result;
                return fromPool + other;
            }
        }
        """ + Jobs);

    [Fact]
    public Task Async_main_may_block_like_any_driver() => Verify.VerifyAsync("""
        public static class Program
        {
            public static async Task Main()
            {
                using var ray = Ray.Init();
                var squares = Enumerable.Range(0, 4).Select(i => Jobs.Remote.Square(i)).ToList();
                Console.WriteLine(string.Join(", ", Ray.Get(squares)));
                Console.WriteLine(await squares[0]);
            }
        }
        """ + Jobs);

    [Fact]
    public Task Sync_actor_without_async_methods_is_not_RAY114() => Verify.VerifyAsync("""
        [RayRemote]
        public partial class Summer
        {
            public int Total(List<ObjectRef<int>> refs) => Ray.Get(refs).Sum();
        }
        """);

    // ---- RAY114 fix ----

    [Fact]
    public Task Fix_awaits_the_ref() => Verify.VerifyFixAsync<AwaitInsteadOfBlockingCodeFixProvider>("""
        public static class Driver
        {
            public static async Task<string> RunAsync(ObjectRef<int> r, ObjectRef<int> s)
            {
                await Task.Yield();
                var a = {|RAY114:Ray.Get(r)|};
                var b = {|RAY114:s.Get()|}.ToString();
                return a + b;
            }
        }
        """ + Jobs, """
        public static class Driver
        {
            public static async Task<string> RunAsync(ObjectRef<int> r, ObjectRef<int> s)
            {
                await Task.Yield();
                var a = await r;
                var b = (await s).ToString();
                return a + b;
            }
        }
        """ + Jobs);

    [Fact]
    public Task Fix_keeps_the_timeout_and_uses_the_async_api() => Verify.VerifyFixAsync<AwaitInsteadOfBlockingCodeFixProvider>("""
        public static class Driver
        {
            public static async Task<int> RunAsync(ObjectRef<int> r, List<ObjectRef<int>> refs)
            {
                var one = {|RAY114:r.Get(TimeSpan.FromSeconds(5))|};
                var all = {|RAY114:Ray.Get(refs, timeout: TimeSpan.FromSeconds(5))|};
                var (ready, _) = {|RAY114:Ray.Wait(refs, numReturns: 2)|};
                var text = {|RAY114:ready[0].AsTask().GetAwaiter().GetResult()|}.ToString();
                return one + all.Sum() + text.Length;
            }
        }
        """ + Jobs, """
        public static class Driver
        {
            public static async Task<int> RunAsync(ObjectRef<int> r, List<ObjectRef<int>> refs)
            {
                var one = (await Ray.GetAsync(new[] { r }, TimeSpan.FromSeconds(5)))[0];
                var all = await Ray.GetAsync(refs, timeout: TimeSpan.FromSeconds(5));
                var (ready, _) = await Ray.WaitAsync(refs, numReturns: 2);
                var text = (await ready[0].AsTask()).ToString();
                return one + all.Sum() + text.Length;
            }
        }
        """ + Jobs);

    // ---- RAY121 raises ----

    [Fact]
    public Task Get_of_a_call_on_the_stored_self_handle() => Verify.VerifyAsync(Node + """

            public int Total() => {|#0:Ray.Get(_self!.Value())|} + 1;
        }
        """,
        Verify.Warning("RAY121").WithLocation(0).WithMessage(
            "'Ray.Get' blocks 'Node.Total' on 'Node.Value', a call on a handle to a 'Node' actor: if it is this actor, the call waits behind the running one forever; make 'Node.Total' async and await it, or call the method directly"));

    [Fact]
    public Task Get_of_a_call_on_a_handle_parameter_through_a_local() => Verify.VerifyAsync(Node + """

            public int Twice(ActorHandle<Node> self)
            {
                var pending = self.Value();
                return {|#0:pending.Get(TimeSpan.FromSeconds(10))|} * 2;
            }
        }
        """,
        Verify.Warning("RAY121").WithLocation(0).WithMessage(
            "'.Get()' blocks 'Node.Twice' on 'Node.Value', a call on a handle to a 'Node' actor: if it is this actor, the call waits behind the running one forever; make 'Node.Twice' async and await it, or call the method directly"));

    [Fact]
    public Task Get_of_a_call_on_a_named_lookup() => Verify.VerifyAsync(Node + """

            public int ViaName() => {|#0:Ray.GetActor<Node>("root").Value().Get()|};
        }
        """,
        Verify.Warning("RAY121").WithLocation(0));

    // ---- RAY121 stays silent ----

    [Fact]
    public Task A_handle_the_method_creates_is_another_actor() => Verify.VerifyAsync(Node + """

            public int Child() => Node.Remote.Create().Value().Get();

            public int Peer() => _peers[0].Value().Get();
        }
        """);

    [Fact]
    public Task A_concurrent_actor_can_serve_its_own_call() => Verify.VerifyAsync("""
        [RayRemote(MaxConcurrency = 4)]
        public partial class Pool
        {
            public int Value() => 1;

            public int Total(ActorHandle<Pool> self) => self.Value().Get() + 1;
        }
        """);

    [Fact]
    public Task A_call_to_another_actor_class_or_not_waited_for_is_fine() => Verify.VerifyAsync(Node + """

            public int Ask(ActorHandle<Other> other) => other.Ping().Get();

            public void Poke() => _self!.Value();

            public int Local() => Value() + 1;
        }

        [RayRemote]
        public partial class Other
        {
            public int Ping() => 1;
        }
        """);
}
