namespace RaySharp;

/// <summary>
/// User code of a task or actor method threw. The remote exception cannot be rethrown as itself (its type
/// may not exist here and exceptions are not serializable), so its type, message and stack trace travel as
/// data. Use <see cref="IsCausedBy{TException}"/> to branch on the remote type. A task whose argument failed
/// raises the upstream task's error, so the first failure in a chain is what callers see.
/// </summary>
public class RayTaskException : RayException
{
    private readonly IReadOnlyList<string> _remoteTypeChain;

    /// <summary>Creates the exception from the data a worker reported.</summary>
    /// <param name="functionName">The remote function or actor method that threw.</param>
    /// <param name="remoteTypeChain">Full names of the remote exception type and its base types, most derived first.</param>
    /// <param name="remoteMessage">The remote exception's message.</param>
    /// <param name="remoteStackTrace">The remote stack trace, as text.</param>
    /// <param name="innerException">A local exception that caused this one, if any.</param>
    public RayTaskException(string functionName, IReadOnlyList<string> remoteTypeChain, string remoteMessage,
        string? remoteStackTrace, Exception? innerException = null)
        : base(FormatMessage(functionName, remoteTypeChain, remoteMessage, remoteStackTrace), innerException)
    {
        ArgumentNullException.ThrowIfNull(remoteTypeChain);
        FunctionName = functionName;
        _remoteTypeChain = remoteTypeChain.Count > 0 ? remoteTypeChain : ["System.Exception"];
        RemoteMessage = remoteMessage;
        RemoteStackTrace = remoteStackTrace;
    }

    /// <summary>The remote function or actor method that threw, e.g. <c>MyApp.MathTasks.Divide</c>.</summary>
    public string FunctionName { get; }

    /// <summary>Full type name of the exception thrown by user code, e.g. <c>System.InvalidOperationException</c>.</summary>
    public string RemoteExceptionType => _remoteTypeChain[0];

    /// <summary>Full names of the remote exception type and all its base types, most derived first.</summary>
    public IReadOnlyList<string> RemoteExceptionTypeChain => _remoteTypeChain;

    /// <summary>The remote exception's message.</summary>
    public string RemoteMessage { get; }

    /// <summary>The remote exception's stack trace, where user code threw.</summary>
    public string? RemoteStackTrace { get; }

    /// <summary>True when the remote exception is a <typeparamref name="TException"/> or derives from it.</summary>
    public bool IsCausedBy<TException>() where TException : Exception => IsCausedBy(typeof(TException));

    /// <summary>True when the remote exception is of <paramref name="exceptionType"/> or derives from it.</summary>
    public bool IsCausedBy(Type exceptionType)
    {
        ArgumentNullException.ThrowIfNull(exceptionType);
        string? name = exceptionType.FullName;
        foreach (var t in _remoteTypeChain)
            if (t == name) return true;
        return false;
    }

    private static string FormatMessage(string functionName, IReadOnlyList<string> chain, string message, string? stack)
    {
        string type = chain is { Count: > 0 } ? chain[0] : "System.Exception";
        return stack is null
            ? $"{functionName} threw {type}: {message}"
            : $"{functionName} threw {type}: {message}{Environment.NewLine}--- remote stack trace ---{Environment.NewLine}{stack}";
    }
}
