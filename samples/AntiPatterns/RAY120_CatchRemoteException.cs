using RaySharp;

namespace AntiPatterns;

/// <summary>The error the remote code throws.</summary>
public sealed class QuotaExceededException(string message) : Exception(message);

/// <summary>RAY120: a remote exception arrives as RayTaskException, never as its own type.</summary>
public static partial class Ray120CatchRemoteException
{
    [RayRemote]
    public static int Charge(int cents) => cents > 100 ? throw new QuotaExceededException($"{cents} is over quota") : cents;

    /// <summary>The catch clause never runs; the error escapes.</summary>
    public static async Task<int> Bad(int cents)
    {
        try
        {
            return await Remote.Charge(cents);
        }
        catch (QuotaExceededException)                        // RAY120
        {
            return 0;
        }
    }

    /// <summary>Catches the RayTaskException whose remote type is QuotaExceededException.</summary>
    public static async Task<int> Fixed(int cents)
    {
        try
        {
            return await Remote.Charge(cents);
        }
        catch (RayTaskException e) when (e.IsCausedBy<QuotaExceededException>())
        {
            return 0;
        }
    }
}
