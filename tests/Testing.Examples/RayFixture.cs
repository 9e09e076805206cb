using RaySharp;
using Xunit;

namespace MyApp.Tests;

/// <summary>One RaySharp for all the test classes of the "Ray" collection: started before the first of them runs,
/// shut down after the last.</summary>
public sealed class RayFixture : IDisposable
{
    public RayFixture() => Context = Ray.Init(new RayOptions { LocalMode = true, NumCpus = 4 });

    public RayContext Context { get; }

    public void Dispose() => Context.Dispose();
}

/// <summary>Every test class that calls RaySharp is in this collection: its tests run one at a time, never next to
/// another collection's, and share the one <see cref="RayFixture"/>.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RayCollection : ICollectionFixture<RayFixture>
{
    public const string Name = "Ray";
}
