using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using RaySharp.Analyzers.Model;

namespace RaySharp.Analyzers;

/// <summary>
/// RAY003: remote shapes the runtime cannot support: by-reference or pointer parameters, generic remote
/// methods, [RayRemote] on instance methods of non-actors, and actor classes that cannot be constructed.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class RemoteShapeAnalyzer : RemoteTypeAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
        ImmutableArray.Create(DiagnosticDescriptors.UnsupportedShape);


    private protected override void AnalyzeRemoteType(SymbolAnalysisContext context, INamedTypeSymbol type, RemoteType remote, RaySymbols symbols)
    {
        if (remote.IsActor)
        {
            AnalyzeActorClass(context, type);
        }

        foreach (var member in remote.Members)
        {
            AnalyzeMember(context, type, member);
        }
    }

    private static void AnalyzeActorClass(SymbolAnalysisContext context, INamedTypeSymbol type)
    {
        var name = WireTypes.Display(type);
        if (type.IsStatic)
        {
            Report(context, SymbolLocations.Identifier(type), name,
                "is a static class, but [RayRemote] on a class declares an actor, which needs instances; remove [RayRemote] from the class and put it on the static methods to make them remote functions");
            return;
        }

        if (type.IsAbstract)
        {
            // Its constructors are protected by nature; saying so as well would only repeat the point.
            Report(context, SymbolLocations.Identifier(type), name,
                "is abstract, but an actor class must be concrete so a worker can construct it; mark the concrete subclass [RayRemote] instead");
        }
        else if (!type.InstanceConstructors.Any(c => c.DeclaredAccessibility == Accessibility.Public))
        {
            Report(context, SymbolLocations.Identifier(type), name,
                "has no public constructor, but actors are created through Remote.Create, one per public constructor; add a public constructor");
        }

        if (IsGenericOrNestedInGeneric(type))
        {
            Report(context, SymbolLocations.Identifier(type), name,
                "is generic, but an actor class must be a non-generic type; declare a non-generic class (it may wrap the generic one)");
        }
    }

    private static void AnalyzeMember(SymbolAnalysisContext context, INamedTypeSymbol type, RemoteMember member)
    {
        var method = member.Method;
        var name = member.DisplayName;
        switch (member.Kind)
        {
            case RemoteMemberKind.InstanceMethodOfNonActor:
                Report(context, SymbolLocations.Identifier(method), name,
                    $"is an instance method of '{WireTypes.Display(type)}', which is not an actor class; make the method static to get a remote function, or mark the class [RayRemote] to make it an actor");
                return;
            case RemoteMemberKind.NonPublicActorMethod:
                Report(context, SymbolLocations.Identifier(method), name,
                    "is not public, and only public methods of an actor are remote; make it public or remove [RayRemote]");
                return;
        }

        if (method.IsGenericMethod)
        {
            Report(context, SymbolLocations.Identifier(method), name,
                "is generic, but a remote method needs one function ID and one serializer per parameter; declare a non-generic method per type you need");
        }
        else if (member.Kind == RemoteMemberKind.Task && IsGenericOrNestedInGeneric(type))
        {
            Report(context, SymbolLocations.Identifier(method), name,
                $"is declared in generic type '{WireTypes.Display(type)}', but remote functions must live in a non-generic type; move it to a non-generic class");
        }

        foreach (var parameter in method.Parameters)
        {
            if (parameter.RefKind != RefKind.None)
            {
                Report(context, SymbolLocations.Parameter(parameter, context.CancellationToken), name,
                    $"takes parameter '{parameter.Name}' by '{RefKindText(parameter.RefKind)}', but remote arguments are copied to another process; take it by value and return any result");
            }
            else if (parameter.Type is IPointerTypeSymbol or IFunctionPointerTypeSymbol)
            {
                Report(context, SymbolLocations.Parameter(parameter, context.CancellationToken), name,
                    $"takes pointer parameter '{parameter.Name}', but a pointer means nothing in another process; pass an array or ReadOnlyMemory<T>");
            }
        }

        if (method.ReturnsByRef || method.ReturnsByRefReadonly)
        {
            Report(context, SymbolLocations.ReturnType(method, context.CancellationToken), name,
                "returns by reference, but remote results are copied to the caller; return the value");
        }
        else if (method.ReturnType is IPointerTypeSymbol or IFunctionPointerTypeSymbol)
        {
            Report(context, SymbolLocations.ReturnType(method, context.CancellationToken), name,
                "returns a pointer, which means nothing in another process; return an array or a value");
        }
    }

    private static bool IsGenericOrNestedInGeneric(INamedTypeSymbol type)
    {
        for (var current = type; current is not null; current = current.ContainingType)
        {
            if (current.IsGenericType)
            {
                return true;
            }
        }

        return false;
    }

    private static string RefKindText(RefKind kind) => kind switch
    {
        RefKind.Out => "out",
        RefKind.In => "in",
        RefKind.Ref => "ref",
        _ => "ref readonly",
    };

    private static void Report(SymbolAnalysisContext context, Location location, string name, string problem) =>
        context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.UnsupportedShape, location, name, problem));
}
