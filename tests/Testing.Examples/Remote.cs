using RaySharp;

namespace MyApp;

// The code under test: what a user's application declares.

public static partial class Pricing
{
    [RayRemote]
    public static decimal WithTax(decimal net, decimal rate) => decimal.Round(net * (1 + rate), 2);

    [RayRemote]
    public static string Node() => Ray.GetRuntimeContext().NodeId.ToString();
}

[RayRemote]
public partial class Basket
{
    private readonly List<decimal> _items = [];

    public int Add(decimal price)
    {
        _items.Add(price);
        return _items.Count;
    }

    public decimal Total() => _items.Sum();
}
