namespace RaySharp;

/// <summary>The outcome of <see cref="Ray.Wait{R}"/>: the refs that are ready and those that are not, each in
/// input order.</summary>
/// <param name="Ready">At most <c>numReturns</c> ready refs.</param>
/// <param name="NotReady">The rest.</param>
public sealed record WaitResult<R>(IReadOnlyList<R> Ready, IReadOnlyList<R> NotReady) where R : ObjectRef;
