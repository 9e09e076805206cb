using RaySharp;

namespace AntiPatterns;

/// <summary>RAY121: a sync actor blocking on a call to itself waits for a call that can only run after it.</summary>
public static class Ray121BlockOnSelf
{
    /// <summary>Total() waits for Value(), which is queued behind Total(): deadlock.</summary>
    public static ObjectRef<int> Bad()
    {
        var node = SelfCallingNode.Remote.Create();
        node.SetSelf(node);
        return node.Total();
    }

    /// <summary>Total() calls Value() on itself directly.</summary>
    public static ObjectRef<int> Fixed()
    {
        var node = DirectNode.Remote.Create();
        return node.Total();
    }
}

[RayRemote]
public partial class SelfCallingNode
{
    private ActorHandle<SelfCallingNode>? _self;

    public void SetSelf(ActorHandle<SelfCallingNode> self) => _self = self;

    public int Value() => 1;

    public int Total() => Ray.Get(_self!.Value()) + 1;        // RAY121
}

[RayRemote]
public partial class DirectNode
{
    public int Value() => 1;

    public int Total() => Value() + 1;
}
