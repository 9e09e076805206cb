using Microsoft.CodeAnalysis;

namespace RaySharp.Analyzers.Model;

/// <summary>
/// The well-known symbols the analyzers compare against, resolved once per compilation. Analyzers do
/// nothing in a compilation that does not reference RaySharp (no <c>RaySharp.RayRemoteAttribute</c>).
/// </summary>
internal sealed class RaySymbols
{
    private RaySymbols(Compilation compilation, INamedTypeSymbol rayRemoteAttribute)
    {
        RayRemoteAttribute = rayRemoteAttribute;
        RayMethodAttribute = compilation.GetTypeByMetadataName("RaySharp.RayMethodAttribute");
        ObjectRef = compilation.GetTypeByMetadataName("RaySharp.ObjectRef");
        ObjectRefOfT = compilation.GetTypeByMetadataName("RaySharp.ObjectRef`1");
        ActorHandle = compilation.GetTypeByMetadataName("RaySharp.ActorHandle");
        ActorHandleOfT = compilation.GetTypeByMetadataName("RaySharp.ActorHandle`1");
        ObjectViewOfT = compilation.GetTypeByMetadataName("RaySharp.ObjectView`1");
        CancellationToken = compilation.GetTypeByMetadataName("System.Threading.CancellationToken");
        Task = compilation.GetTypeByMetadataName("System.Threading.Tasks.Task");
        TaskOfT = compilation.GetTypeByMetadataName("System.Threading.Tasks.Task`1");
        ValueTask = compilation.GetTypeByMetadataName("System.Threading.Tasks.ValueTask");
        ValueTaskOfT = compilation.GetTypeByMetadataName("System.Threading.Tasks.ValueTask`1");
        AsyncEnumerableOfT = compilation.GetTypeByMetadataName("System.Collections.Generic.IAsyncEnumerable`1");
        MemoryPackableAttribute = compilation.GetTypeByMetadataName("MemoryPack.MemoryPackableAttribute");
        MemoryPackUnionAttribute = compilation.GetTypeByMetadataName("MemoryPack.MemoryPackUnionAttribute");
        MemoryPackableInterface = compilation.GetTypeByMetadataName("MemoryPack.IMemoryPackable`1");
    }

    public INamedTypeSymbol RayRemoteAttribute { get; }
    public INamedTypeSymbol? RayMethodAttribute { get; }
    public INamedTypeSymbol? ObjectRef { get; }
    public INamedTypeSymbol? ObjectRefOfT { get; }
    public INamedTypeSymbol? ActorHandle { get; }
    public INamedTypeSymbol? ActorHandleOfT { get; }
    public INamedTypeSymbol? ObjectViewOfT { get; }
    public INamedTypeSymbol? CancellationToken { get; }
    public INamedTypeSymbol? Task { get; }
    public INamedTypeSymbol? TaskOfT { get; }
    public INamedTypeSymbol? ValueTask { get; }
    public INamedTypeSymbol? ValueTaskOfT { get; }
    public INamedTypeSymbol? AsyncEnumerableOfT { get; }
    public INamedTypeSymbol? MemoryPackableAttribute { get; }
    public INamedTypeSymbol? MemoryPackUnionAttribute { get; }
    public INamedTypeSymbol? MemoryPackableInterface { get; }

    /// <summary>Null when the compilation does not reference RaySharp.</summary>
    public static RaySymbols? TryCreate(Compilation compilation)
    {
        var attribute = compilation.GetTypeByMetadataName("RaySharp.RayRemoteAttribute");
        return attribute is null ? null : new RaySymbols(compilation, attribute);
    }

    public bool IsCancellationToken(ITypeSymbol type) => Is(type, CancellationToken);

    public bool IsObjectView(ITypeSymbol? type) => IsConstructedFrom(type, ObjectViewOfT);

    public static bool Is(ITypeSymbol? type, INamedTypeSymbol? expected) =>
        type is not null && expected is not null && SymbolEqualityComparer.Default.Equals(type, expected);

    public static bool IsConstructedFrom(ITypeSymbol? type, INamedTypeSymbol? definition) =>
        type is INamedTypeSymbol { IsGenericType: true } named && definition is not null &&
        SymbolEqualityComparer.Default.Equals(named.OriginalDefinition, definition);

    public AttributeData? FindAttribute(ISymbol symbol, INamedTypeSymbol? attributeType)
    {
        if (attributeType is null)
        {
            return null;
        }

        foreach (var attribute in symbol.GetAttributes())
        {
            if (SymbolEqualityComparer.Default.Equals(attribute.AttributeClass, attributeType))
            {
                return attribute;
            }
        }

        return null;
    }
}
