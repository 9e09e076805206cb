using Xunit;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace RaySharp.Tests;

/// <summary>Starts RaySharp for one test and shuts it down afterwards, whatever happens.</summary>
public abstract class RayTest : IDisposable
{
    protected static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    protected RayTest() : this(new RayOptions { LocalMode = TestMode.Local, NumCpus = 4 }) { }

    protected RayTest(RayOptions options) => Context = Ray.Init(options);

    protected RayContext Context { get; }

    public virtual void Dispose()
    {
        Context.Dispose();
        GC.SuppressFinalize(this);
    }
}
