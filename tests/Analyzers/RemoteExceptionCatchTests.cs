using RaySharp.Analyzers.CodeFixes;
using Xunit;
using Verify = RaySharp.Analyzers.Tests.Verifiers.GeneratedProxyVerifier<RaySharp.Analyzers.AntiPatterns.RemoteExceptionCatchAnalyzer>;

namespace RaySharp.Analyzers.Tests;

/// <summary>RAY120: catching the remote exception type around a Get or await, and its RayTaskException fix.</summary>
public class RemoteExceptionCatchTests
{
    private const string Remote = """

        public sealed class QuotaExceededException(string message) : Exception(message);

        public static partial class Billing
        {
            [RayRemote]
            public static int Charge(int cents) => cents > 100 ? throw new QuotaExceededException("over quota") : cents;

            [RayRemote]
            public static int Divide(int a, int b) => a / b;
        }
        """;

    // ---- raises ----

    [Fact]
    public Task User_exception_caught_around_await() => Verify.VerifyAsync("""
        public static class Driver
        {
            public static async Task<int> ChargeAsync(int cents)
            {
                try
                {
                    var charged = await Billing.Remote.Charge(cents);
                    Console.WriteLine($"charged {charged}");
                    return charged;
                }
                catch ({|#0:QuotaExceededException|} e)
                {
                    Console.WriteLine(e.Message);
                    return 0;
                }
            }
        }
        """ + Remote,
        Verify.Warning("RAY120").WithLocation(0).WithMessage(
            "'catch (QuotaExceededException)' never catches what 'await Billing.Remote.Charge(cents)' throws: RaySharp reports a remote QuotaExceededException as RayTaskException; catch (RayTaskException e) when (e.IsCausedBy<QuotaExceededException>())"));

    [Fact]
    public Task Bcl_exception_caught_around_get() => Verify.VerifyAsync("""
        public static class Driver
        {
            public static int SafeDivide(int a, int b)
            {
                var quotient = Billing.Remote.Divide(a, b);
                try
                {
                    return quotient.Get();
                }
                catch ({|#0:DivideByZeroException|})
                {
                    return 0;
                }
                catch ({|#1:QuotaExceededException|}) when (a > 0)
                {
                    return -1;
                }
            }
        }
        """ + Remote,
        Verify.Warning("RAY120").WithLocation(0).WithArguments("DivideByZeroException", "quotient.Get()"),
        Verify.Warning("RAY120").WithLocation(1).WithArguments("QuotaExceededException", "quotient.Get()"));

    [Fact]
    public Task User_exception_caught_around_ray_get_of_many() => Verify.VerifyAsync("""
        public static class Driver
        {
            public static int[] ChargeAll(List<int> amounts)
            {
                var refs = amounts.Select(a => Billing.Remote.Charge(a)).ToList();
                try
                {
                    return Ray.Get(refs);
                }
                catch ({|#0:QuotaExceededException|})
                {
                    return [];
                }
            }
        }
        """ + Remote,
        Verify.Warning("RAY120").WithLocation(0).WithArguments("QuotaExceededException", "Ray.Get(refs)"));

    // ---- stays silent ----

    [Fact]
    public Task Catching_ray_task_exception_or_a_base_is_right() => Verify.VerifyAsync("""
        public static class Driver
        {
            public static async Task<int> ChargeAsync(int cents)
            {
                try { return await Billing.Remote.Charge(cents); }
                catch (RayTaskException e) when (e.IsCausedBy<QuotaExceededException>()) { return 0; }
                catch (GetTimeoutException) { return -1; }
                catch (RayException) { return -2; }
                catch (Exception) { return -3; }
            }
        }
        """ + Remote);

    [Fact]
    public Task Exceptions_the_runtime_throws_locally_are_catchable() => Verify.VerifyAsync("""
        public static class Driver
        {
            public static async Task<int> ChargeAsync(int cents, CancellationToken ct)
            {
                try { return (await Ray.GetAsync([Billing.Remote.Charge(cents)], TimeSpan.FromSeconds(1), ct))[0]; }
                catch (OperationCanceledException) { return -1; }
                catch (ObjectDisposedException) { return -2; }
                catch (ArgumentException) { return -3; }
                catch (InvalidOperationException) { return -4; }
                catch (TimeoutException) { return -5; }
                catch (AggregateException) { return -6; }
            }
        }
        """ + Remote);

    [Fact]
    public Task Other_code_in_the_try_block_may_throw_the_type() => Verify.VerifyAsync("""
        public static class Driver
        {
            public static async Task<int> ChargeAsync(string input)
            {
                try
                {
                    var cents = int.Parse(input);
                    return await Billing.Remote.Charge(cents);
                }
                catch (FormatException) { return -1; }
            }

            public static int Checked(int cents)
            {
                try
                {
                    Validate(cents);
                    return Billing.Remote.Charge(cents).Get();
                }
                catch (QuotaExceededException) { return -1; }
            }

            public static int Rethrown(int cents)
            {
                try
                {
                    if (cents > 100) throw new QuotaExceededException("local check");
                    return Billing.Remote.Charge(cents).Get();
                }
                catch (QuotaExceededException) { return -1; }
            }

            private static void Validate(int cents) { if (cents < 0) throw new QuotaExceededException("negative"); }
        }
        """ + Remote);

    [Fact]
    public Task A_try_block_without_a_get_is_not_this_rule() => Verify.VerifyAsync("""
        public static class Driver
        {
            public static ObjectRef<int> Submit(int cents)
            {
                try
                {
                    var r = Billing.Remote.Charge(cents);
                    Task.Run(async () => await r);
                    return r;
                }
                catch (QuotaExceededException) { throw; }
            }
        }
        """ + Remote);

    // ---- fix ----

    [Fact]
    public Task Fix_catches_ray_task_exception_caused_by_the_type() => Verify.VerifyFixAsync<CatchRayTaskExceptionCodeFixProvider>("""
        public static class Driver
        {
            public static async Task<int> ChargeAsync(int cents)
            {
                try
                {
                    return await Billing.Remote.Charge(cents);
                }
                catch ({|RAY120:QuotaExceededException|} e)
                {
                    Console.WriteLine(e.Message);
                    return 0;
                }
                catch ({|RAY120:DivideByZeroException|}) when (cents > 0 || cents < -5)
                {
                    return -1;
                }
            }

            public static int Get(ObjectRef<int> e)
            {
                try { return e.Get(); }
                catch ({|RAY120:QuotaExceededException|})
                {
                    throw;
                }
            }
        }
        """ + Remote, """
        public static class Driver
        {
            public static async Task<int> ChargeAsync(int cents)
            {
                try
                {
                    return await Billing.Remote.Charge(cents);
                }
                catch (RayTaskException e) when (e.IsCausedBy<QuotaExceededException>())
                {
                    Console.WriteLine(e.Message);
                    return 0;
                }
                catch (RayTaskException e) when (e.IsCausedBy<DivideByZeroException>() && (cents > 0 || cents < -5))
                {
                    return -1;
                }
            }

            public static int Get(ObjectRef<int> e)
            {
                try { return e.Get(); }
                catch (RayTaskException ex) when (ex.IsCausedBy<QuotaExceededException>())
                {
                    throw;
                }
            }
        }
        """ + Remote);

    [Fact]
    public Task No_fix_when_the_clause_needs_the_user_type() => Verify.VerifyFixAsync<CatchRayTaskExceptionCodeFixProvider>("""
        public sealed class LimitException(int limit) : Exception("limit") { public int Limit { get; } = limit; }

        public static class Driver
        {
            public static int Charge(ObjectRef<int> r)
            {
                try { return r.Get(); }
                catch ({|RAY120:LimitException|} e) { return e.Limit; }
            }
        }
        """ + Remote, """
        public sealed class LimitException(int limit) : Exception("limit") { public int Limit { get; } = limit; }

        public static class Driver
        {
            public static int Charge(ObjectRef<int> r)
            {
                try { return r.Get(); }
                catch ({|RAY120:LimitException|} e) { return e.Limit; }
            }
        }
        """ + Remote);
}
