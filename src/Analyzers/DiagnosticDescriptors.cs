using Microsoft.CodeAnalysis;

namespace RaySharp.Analyzers;

/// <summary>Every diagnostic RaySharp's analyzers report. IDs are a contract: outside code and docs rely on them.</summary>
internal static partial class DiagnosticDescriptors
{
    /// <summary>Base of the help links; each rule's page is <c>RAYnnn.md</c> under it.</summary>
    public const string HelpLinkBase = "https://github.com/raysharp/raysharp/blob/main/docs/analyzers/";

    public const string UsageCategory = "RaySharp.Usage";
    public const string SerializationCategory = "RaySharp.Serialization";

    public const string TypeMustBePartialId = "RAY001";
    public const string UnserializableTypeId = "RAY002";
    public const string UnsupportedShapeId = "RAY003";
    public const string NumReturnsMismatchId = "RAY004";
    public const string InvalidResourceRequestId = "RAY005";
    public const string FunctionIdCollisionId = "RAY006";
    public const string BundleIndexOutOfRangeId = "RAY007";

    public static readonly DiagnosticDescriptor TypeMustBePartial = Create(
        TypeMustBePartialId,
        "Types with [RayRemote] members must be partial",
        "'{0}' declares [RayRemote] members, so the RaySharp generator has to add code to it: add 'partial' to {1}",
        UsageCategory,
        "The source generator emits the Remote proxies, descriptors and registration into the type that declares [RayRemote] members. It can only do that if the type and every type containing it are partial.");

    public static readonly DiagnosticDescriptor UnserializableType = Create(
        UnserializableTypeId,
        "Remote parameter or return type cannot be serialized",
        "{0} of remote method '{1}' has type '{2}', which cannot cross the wire: {3}",
        SerializationCategory,
        "Arguments and results of remote methods are serialized with MemoryPack. Supported are primitives, string, enums, common BCL value types, arrays, the BCL collections MemoryPack knows, tuples, [MemoryPackable] types, ObjectRef<T>, ActorHandle<T> and (as a top-level parameter) CancellationToken and ObjectView<T>.");

    public static readonly DiagnosticDescriptor UnsupportedShape = Create(
        UnsupportedShapeId,
        "Unsupported remote method or actor shape",
        "'{0}' {1}",
        UsageCategory,
        "Remote functions are static, non-generic methods of a non-generic type taking parameters by value. Actors are concrete, non-static, non-generic classes with at least one public constructor.");

    public static readonly DiagnosticDescriptor NumReturnsMismatch = Create(
        NumReturnsMismatchId,
        "NumReturns does not match the returned tuple",
        "'{0}' sets NumReturns = {1}, but {2}",
        UsageCategory,
        "NumReturns = N splits a returned tuple of N elements into N objects. It must equal the tuple's arity (or be 1, which keeps the tuple as one object).");

    public static readonly DiagnosticDescriptor InvalidResourceRequest = Create(
        InvalidResourceRequestId,
        "Invalid resource request",
        "Invalid resource request on '{0}': {1}",
        UsageCategory,
        "Ray rejects negative resource amounts, fractional amounts above 1 that are not whole numbers, and custom resources that are not written as \"name=amount\".");

    public static readonly DiagnosticDescriptor FunctionIdCollision = Create(
        FunctionIdCollisionId,
        "Remote methods collide",
        "'{0}' collides with '{1}': {2}",
        UsageCategory,
        "Each remote method needs its own function ID (computed from the type, the remote name and the parameter types, without CancellationToken) and its own generated proxy signature, one a call passing a ref can tell apart from its overloads (a T parameter's proxy takes a value or an ObjectRef<T>).");

    public static readonly DiagnosticDescriptor BundleIndexOutOfRange = Create(
        BundleIndexOutOfRangeId,
        "Placement group bundle index out of range",
        "Bundle index {0} is {1}",
        UsageCategory,
        "A PlacementGroupSchedulingStrategy's bundle index is -1 (any bundle of the group) or the index of one of the group's bundles, from 0 to the bundle count minus 1. Ray refuses to schedule work into a bundle the group does not have, and the strategy's constructor throws for an index below -1.");

    private static DiagnosticDescriptor Create(string id, string title, string message, string category, string description) =>
        new(
            id,
            title,
            message,
            category,
            DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            description: description,
            helpLinkUri: HelpLinkBase + id + ".md");
}
