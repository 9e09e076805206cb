using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using RaySharp.Analyzers.Flow;

namespace RaySharp.Analyzers;

/// <summary>
/// RAY010-RAY012: references that escape the runtime's counting or outlive their use. A ref kept in a
/// static (RAY010), captured by a callback that outlives the call (RAY011), or written out as JSON, binary
/// or the text of its ID (RAY012).
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ReferenceLeakAnalyzer : RayFlowAnalyzer
{
    private static readonly SymbolDisplayFormat MemberFormat = SymbolDisplayFormat.CSharpShortErrorMessageFormat;

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(
        DiagnosticDescriptors.RefInStaticState,
        DiagnosticDescriptors.RefCapturedByLongLivedCallback,
        DiagnosticDescriptors.RefSerializedOutOfBand);

    private protected override void Register(CompilationStartAnalysisContext context, RayApi api)
    {
        var sinks = new OutOfBandSinks(context.Compilation);
        context.RegisterSymbolAction(c => AnalyzeStaticMember(c, api), SymbolKind.Field, SymbolKind.Property);
        context.RegisterOperationAction(c => AnalyzeStaticStore(c, api), OperationKind.Invocation, OperationKind.SimpleAssignment);
        context.RegisterOperationAction(c => AnalyzeCallbackSink(c, api), Callbacks.SinkKinds);
        context.RegisterOperationAction(c => AnalyzeOutOfBand(c, api, sinks), OperationKind.Invocation, OperationKind.SimpleAssignment);
    }

    // ---- RAY010: static state ----

    private static void AnalyzeStaticMember(SymbolAnalysisContext context, RayApi api)
    {
        var (type, location) = context.Symbol switch
        {
            IFieldSymbol { IsStatic: true, IsConst: false, IsImplicitlyDeclared: false } field => (field.Type, field.Locations.FirstOrDefault()),
            IPropertySymbol { IsStatic: true } property when IsAutoProperty(property) => (property.Type, property.Locations.FirstOrDefault()),
            _ => (null, null),
        };

        if (type is not null && location is not null && api.HoldsReferences(type, includeHandles: true))
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.RefInStaticState, location,
                context.Symbol.ToDisplayString(MemberFormat), type.ToDisplayString(MemberFormat)));
        }
    }

    private static bool IsAutoProperty(IPropertySymbol property) =>
        property.ContainingType.GetMembers().OfType<IFieldSymbol>().Any(f => SymbolEqualityComparer.Default.Equals(f.AssociatedSymbol, property));

    /// <summary>
    /// A ref stored into a static whose declared type does not say so (an <c>object</c> field, a
    /// <c>List&lt;object&gt;</c>): the declaration check cannot see it, so report the store.
    /// </summary>
    private static void AnalyzeStaticStore(OperationAnalysisContext context, RayApi api)
    {
        switch (context.Operation)
        {
            case ISimpleAssignmentOperation assignment:
                if (StaticMember(assignment.Target) is { } target)
                {
                    Report(target, assignment.Value);
                }
                else if (assignment.Target is IPropertyReferenceOperation { Property.IsIndexer: true } indexer &&
                    StaticMember(indexer.Instance) is { } collection)
                {
                    Report(collection, assignment.Value);
                }

                break;
            case IInvocationOperation invocation when Operations.StoringMethods.Contains(invocation.TargetMethod.Name) &&
                StaticMember(invocation.Instance) is { } collection && IsCollection(MemberType(collection)):
                foreach (var argument in invocation.Arguments)
                {
                    Report(collection, argument.Value);
                }

                break;
        }

        void Report(ISymbol member, IOperation value)
        {
            var stored = Operations.Unwrap(value);
            if (stored?.Type is { } type && api.HoldsReferences(type, includeHandles: true) &&
                !api.HoldsReferences(MemberType(member), includeHandles: true))
            {
                context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.RefInStaticState, stored.Syntax.GetLocation(),
                    member.ToDisplayString(MemberFormat), type.ToDisplayString(MemberFormat)));
            }
        }
    }

    private static ISymbol? StaticMember(IOperation? operation) => Operations.Unwrap(operation) switch
    {
        IFieldReferenceOperation { Field: { IsStatic: true, IsConst: false } field } => field,
        IPropertyReferenceOperation { Property: { IsStatic: true, IsIndexer: false } property } => property,
        _ => null,
    };

    /// <summary>Only collections keep what is added to them; a static proxy's <c>Remote.Add(x)</c> submits a task.</summary>
    private static bool IsCollection(ITypeSymbol? type) =>
        type is not null && type.AllInterfaces.Any(i => i.SpecialType == SpecialType.System_Collections_IEnumerable);

    private static ITypeSymbol? MemberType(ISymbol member) => member switch
    {
        IFieldSymbol field => field.Type,
        IPropertySymbol property => property.Type,
        _ => null,
    };

    // ---- RAY011: callbacks that outlive the call ----

    private static void AnalyzeCallbackSink(OperationAnalysisContext context, RayApi api)
    {
        foreach (var (value, escape) in Callbacks.Escaping(context.Operation))
        {
            if (Callbacks.Body(value) is not ({ } function, { } body))
            {
                continue;
            }

            var reported = new HashSet<ISymbol>(SymbolEqualityComparer.Default);
            foreach (var reference in body.Descendants())
            {
                var captured = reference switch
                {
                    ILocalReferenceOperation local => (ISymbol)local.Local,
                    IParameterReferenceOperation parameter => parameter.Parameter,
                    _ => null,
                };

                if (captured is not null && api.IsObjectRef(reference.Type) && Operations.IsDeclaredOutside(captured, function) &&
                    reported.Add(captured))
                {
                    context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.RefCapturedByLongLivedCallback,
                        reference.Syntax.GetLocation(), captured.Name, escape));
                }
            }
        }
    }

    // ---- RAY012: out-of-band serialization ----

    private static void AnalyzeOutOfBand(OperationAnalysisContext context, RayApi api, OutOfBandSinks sinks)
    {
        switch (context.Operation)
        {
            case IInvocationOperation invocation when sinks.Serializer(invocation.TargetMethod) is { } serializer:
                if (invocation.Arguments.FirstOrDefault(a => a.Parameter?.Name == "value") is { } serialized &&
                    Operations.Unwrap(serialized.Value) is { } written && DescribeHeldRef(written, api) is { } held)
                {
                    Report(written, serializer + " writes", held);
                }

                break;
            case IInvocationOperation invocation when sinks.Writer(invocation.TargetMethod) is { } writer:
                foreach (var argument in invocation.Arguments)
                {
                    if (Operations.Unwrap(argument.Value) is { } text && IdOf(text, api, depth: 0) is { } idOwner)
                    {
                        Report(text, writer + " writes", $"the ID of ObjectRef '{idOwner}'");
                    }
                }

                break;
            case ISimpleAssignmentOperation { Target: IFieldReferenceOperation or IPropertyReferenceOperation { Property.IsIndexer: false } } assignment
                when Operations.Unwrap(assignment.Value) is { Type.SpecialType: SpecialType.System_String } value &&
                    IdOf(value, api, depth: 0) is { } owner:
                var member = assignment.Target is IFieldReferenceOperation f ? (ISymbol)f.Field : ((IPropertyReferenceOperation)assignment.Target).Property;
                Report(value, $"'{member.ToDisplayString(MemberFormat)}' stores", $"the ID of ObjectRef '{owner}' as text");
                break;
        }

        void Report(IOperation value, string verb, string what) =>
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.RefSerializedOutOfBand, value.Syntax.GetLocation(), verb, what));
    }

    /// <summary>Describes the ref a serialized value carries (itself, an element, or a member of a user type), or null.</summary>
    private static string? DescribeHeldRef(IOperation value, RayApi api)
    {
        var name = Operations.NameOf(value);

        if (value.Type is not { } type)
        {
            return null;
        }

        if (api.IsObjectRef(type))
        {
            return $"ObjectRef '{name}'";
        }

        if (api.HoldsReferences(type, includeHandles: false))
        {
            return $"'{name}', which holds '{type.ToDisplayString(MemberFormat)}',";
        }

        if (RaySharpIdOf(type, api))
        {
            return $"'{name}', the ID of an ObjectRef,";
        }

        return MemberHoldingRef(type, api) is { } member
            ? $"'{name}', whose member '{member.ToDisplayString(MemberFormat)}' holds an ObjectRef,"
            : null;
    }

    private static bool RaySharpIdOf(ITypeSymbol type, RayApi api) => RayApi.Same(type, api.ObjectId);

    /// <summary>A public property or field of a user type that holds refs (one level deep: what a serializer would write).</summary>
    private static ISymbol? MemberHoldingRef(ITypeSymbol type, RayApi api)
    {
        if (type is not INamedTypeSymbol { TypeKind: TypeKind.Class or TypeKind.Struct } named || !named.Locations.Any(l => l.IsInSource))
        {
            return null;
        }

        return named.GetMembers().FirstOrDefault(m => m.DeclaredAccessibility == Accessibility.Public && !m.IsStatic && m switch
        {
            IPropertySymbol p => api.HoldsReferences(p.Type, includeHandles: false) || RaySharpIdOf(p.Type, api),
            IFieldSymbol f => api.HoldsReferences(f.Type, includeHandles: false) || RaySharpIdOf(f.Type, api),
            _ => false,
        });
    }

    /// <summary>
    /// The name of the ref whose ID <paramref name="value"/> is made of (<c>r.Id</c>, <c>r.Id.ToString()</c>,
    /// <c>r.ToString()</c>, an interpolation or concatenation of them, or a local assigned from one), or null.
    /// </summary>
    private static string? IdOf(IOperation value, RayApi api, int depth)
    {
        if (depth > 3)
        {
            return null;
        }

        foreach (var operation in Operations.DescendantsAndSelf(value))
        {
            switch (operation)
            {
                case IPropertyReferenceOperation { Property.Name: "Id" } id when api.IsObjectRef(id.Instance?.Type):
                    return Operations.NameOf(id.Instance!);
                case IInvocationOperation { TargetMethod.Name: "ToString" } call when api.IsObjectRef(call.Instance?.Type):
                    return Operations.NameOf(call.Instance!);
                case IInterpolationOperation interpolation when api.IsObjectRef(Operations.Unwrap(interpolation.Expression)?.Type):
                    return Operations.NameOf(Operations.Unwrap(interpolation.Expression)!);
                case IBinaryOperation { OperatorKind: BinaryOperatorKind.Add } concat:
                    foreach (var side in new[] { concat.LeftOperand, concat.RightOperand })
                    {
                        if (api.IsObjectRef(Operations.Unwrap(side)?.Type))
                        {
                            return Operations.NameOf(Operations.Unwrap(side)!);
                        }
                    }

                    break;
                case ILocalReferenceOperation local when operation == value || local.Type?.SpecialType == SpecialType.System_String || RaySharpIdOf(local.Type!, api):
                    foreach (var assigned in Operations.ValuesAssigned(Operations.Root(operation), local.Local))
                    {
                        if (IdOf(assigned, api, depth + 1) is { } owner)
                        {
                            return owner;
                        }
                    }

                    break;
            }
        }

        return null;
    }

    /// <summary>The serializers and writers that take data out of RaySharp's hands, resolved once per compilation.</summary>
    private sealed class OutOfBandSinks
    {
        private readonly INamedTypeSymbol? _jsonSerializer;
        private readonly INamedTypeSymbol? _newtonsoftConvert;
        private readonly INamedTypeSymbol? _binaryWriter;
        private readonly INamedTypeSymbol? _file;

        public OutOfBandSinks(Compilation compilation)
        {
            _jsonSerializer = compilation.GetTypeByMetadataName("System.Text.Json.JsonSerializer");
            _newtonsoftConvert = compilation.GetTypeByMetadataName("Newtonsoft.Json.JsonConvert");
            _binaryWriter = compilation.GetTypeByMetadataName("System.IO.BinaryWriter");
            _file = compilation.GetTypeByMetadataName("System.IO.File");
        }

        public string? Serializer(IMethodSymbol method)
        {
            if (RayApi.Same(method.ContainingType, _jsonSerializer) && method.Name.StartsWith("Serialize", System.StringComparison.Ordinal))
            {
                return "JsonSerializer." + method.Name;
            }

            return RayApi.Same(method.ContainingType, _newtonsoftConvert) && method.Name == "SerializeObject"
                ? "JsonConvert.SerializeObject"
                : null;
        }

        public string? Writer(IMethodSymbol method)
        {
            if (RayApi.Same(method.ContainingType, _binaryWriter) && method.Name == "Write")
            {
                return "BinaryWriter.Write";
            }

            return RayApi.Same(method.ContainingType, _file) &&
                method.Name is "WriteAllText" or "WriteAllTextAsync" or "AppendAllText" or "AppendAllTextAsync" or
                    "WriteAllLines" or "WriteAllLinesAsync" or "AppendAllLines" or "AppendAllLinesAsync" or "WriteAllBytes" or "WriteAllBytesAsync"
                ? "File." + method.Name
                : null;
        }
    }
}
