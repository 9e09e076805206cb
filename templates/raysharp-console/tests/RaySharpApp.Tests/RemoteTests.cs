using RaySharp;

namespace RaySharpApp.Tests;

[Collection(RayCollection.Name)]
public sealed class RemoteTests
{
    [Fact]
    public async Task A_task_squares_its_argument()
    {
        Assert.Equal(49, await MathTasks.Remote.Square(7));
    }

    [Fact]
    public void Refs_pass_from_task_to_task()
    {
        var sum = MathTasks.Remote.Add(MathTasks.Remote.Square(3), MathTasks.Remote.Square(4));
        Assert.Equal(25, Ray.Get(sum));
    }

    [Fact]
    public async Task An_actor_keeps_its_count_between_calls()
    {
        var counter = Counter.Remote.Create(0);
        _ = counter.Increment();
        Assert.Equal(2, await counter.Increment());
    }
}
