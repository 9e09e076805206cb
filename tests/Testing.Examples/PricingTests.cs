using Xunit;

namespace MyApp.Tests;

[Collection(RayCollection.Name)]
public sealed class PricingTests
{
    [Fact]
    public async Task A_task_adds_the_tax()
    {
        Assert.Equal(12.10m, await Pricing.Remote.WithTax(10m, 0.21m));
    }
}

[Collection(RayCollection.Name)]
public sealed class BasketTests
{
    [Fact]
    public async Task An_actor_keeps_its_items_between_calls()
    {
        var basket = Basket.Remote.Create();
        _ = basket.Add(2.50m);
        Assert.Equal(2, await basket.Add(1.25m));   // calls from one caller run in order
        Assert.Equal(3.75m, await basket.Total());
    }
}
