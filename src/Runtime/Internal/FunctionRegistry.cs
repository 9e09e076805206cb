using System.Collections.Concurrent;
using System.ComponentModel;

namespace RaySharp.Internal;

/// <summary>
/// The process's table of remote functions, filled by the module initializers of assemblies that contain
/// generated code. A worker executing a task looks its function up here by ID.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class FunctionRegistry
{
    private static readonly ConcurrentDictionary<ulong, RemoteFunctionDescriptor> s_functions = new();

    /// <summary>Registers <paramref name="function"/>. Registering the same signature twice is a no-op.</summary>
    /// <exception cref="InvalidOperationException">Another signature already has the same ID.</exception>
    public static void Register(RemoteFunctionDescriptor function)
    {
        ArgumentNullException.ThrowIfNull(function);
        var existing = s_functions.GetOrAdd(function.FunctionId, function);
        if (!ReferenceEquals(existing, function) && existing.Signature != function.Signature)
            throw new InvalidOperationException(
                $"Remote functions '{existing.Signature}' and '{function.Signature}' have the same function ID " +
                $"{function.FunctionId:x16}. Rename one, or give one an explicit [RayRemote(Name = ...)].");
    }

    /// <summary>The function with <paramref name="functionId"/>, if an assembly registered it.</summary>
    public static bool TryGet(ulong functionId, out RemoteFunctionDescriptor function) =>
        s_functions.TryGetValue(functionId, out function!);

    internal static RemoteFunctionDescriptor Get(ulong functionId, string nameForErrors) =>
        TryGet(functionId, out var f) ? f : throw new InvalidOperationException(
            $"Remote function '{nameForErrors}' ({functionId:x16}) is not registered in this process. " +
            "The assembly that declares it must be loaded by the worker (it is on the job's code search path).");
}
