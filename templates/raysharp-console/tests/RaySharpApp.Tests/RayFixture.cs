using RaySharp;

namespace RaySharpApp.Tests;

/// <summary>One RaySharp for every test class of the "Ray" collection (RaySharp runs once per process): a one-node
/// cluster whose workers run this project's code in processes of their own. <c>new RayOptions { LocalMode = true }</c>
/// runs everything in the test process instead, for the logic of tasks and actors.</summary>
public sealed class RayFixture : IDisposable
{
    public RayFixture() => Context = Ray.Init(new RayOptions { NumCpus = 2 });

    public RayContext Context { get; }

    public void Dispose() => Context.Dispose();
}

/// <summary>Every test class that calls RaySharp is in this collection: its tests run one at a time and share the fixture.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RayCollection : ICollectionFixture<RayFixture>
{
    public const string Name = "Ray";
}
