using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using RaySharp.Analyzers.Model;

namespace RaySharp.Analyzers.AntiPatterns;

/// <summary>
/// What code running in a worker must not do. RAY111: use mutable static state of the user's assembly.
/// RAY113: start a second RaySharp runtime or fork a process. "Remote code" is the body of a task, an actor
/// method or an actor constructor (with the lambdas and local functions in it).
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class RemoteCodeAnalyzer : RayApiAnalyzer
{
    // Collection methods that change the collection: a remote call doing this to a static readonly collection
    // writes global state as surely as assigning a static field does.
    private static readonly ImmutableHashSet<string> MutatingCollectionMethods = ImmutableHashSet.Create(
        "Add", "AddRange", "Remove", "RemoveAt", "RemoveAll", "RemoveRange", "Clear", "Insert", "InsertRange",
        "TryAdd", "TryRemove", "TryUpdate", "AddOrUpdate", "GetOrAdd", "Enqueue", "Dequeue", "TryDequeue",
        "Push", "Pop", "TryPop", "TryTake", "Sort", "Reverse", "UnionWith", "ExceptWith", "IntersectWith");

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
        ImmutableArray.Create(DiagnosticDescriptors.GlobalStateInRemoteCode, DiagnosticDescriptors.NestedRuntimeInRemoteCode);

    private protected override void Register(CompilationStartAnalysisContext context, RayApi api) =>
        context.RegisterOperationBlockStartAction(block =>
        {
            if (api.GetRemoteCodeOwner(block.OwningSymbol) is not { } owner)
            {
                return;
            }

            block.RegisterOperationAction(c => AnalyzeMemberReference(c, owner, api), OperationKind.FieldReference, OperationKind.PropertyReference);
            block.RegisterOperationAction(c => AnalyzeInvocation(c, owner, api), OperationKind.Invocation);
        });

    private static void AnalyzeMemberReference(OperationAnalysisContext context, RemoteMember owner, RayApi api)
    {
        var reference = (IMemberReferenceOperation)context.Operation;
        if (reference is IPropertyReferenceOperation { Property.IsIndexer: true, Instance: IMemberReferenceOperation holder } &&
            IsStaticUserState(holder.Member, api) && IsWritten(reference))
        {
            Report(context, owner, "changes the contents of", holder.Member is IFieldSymbol ? "field" : "property", holder.Member);
            return;
        }

        var member = reference.Member;
        if (!IsStaticUserState(member, api) || ChangesContents(reference, api))
        {
            // A content change (s_cache[k] = v, s_list.Add(x)) is reported once, at the change.
            return;
        }

        var isWrite = IsWritten(reference);
        switch (member)
        {
            case IFieldSymbol { IsConst: false, IsReadOnly: false } field when isWrite || IsWritableOutsideItsType(field.DeclaredAccessibility):
                Report(context, owner, isWrite ? "writes" : "reads", "field", field);
                break;
            case IPropertySymbol { SetMethod: { IsInitOnly: false } setter } property when isWrite || IsWritableOutsideItsType(setter.DeclaredAccessibility):
                Report(context, owner, isWrite ? "writes" : "reads", "property", property);
                break;
        }
    }

    private static void AnalyzeInvocation(OperationAnalysisContext context, RemoteMember owner, RayApi api)
    {
        var invocation = (IInvocationOperation)context.Operation;
        var method = invocation.TargetMethod;

        if (api.IsRayMethod(method, "Init") || api.IsRayMethod(method, "InitAsync"))
        {
            context.ReportDiagnostic(Diagnostic.Create(
                DiagnosticDescriptors.NestedRuntimeInRemoteCode,
                invocation.Syntax.GetLocation(),
                owner.DisplayName,
                "Ray." + method.Name,
                "the worker is already connected to the cluster; submit tasks and create actors from here directly"));
            return;
        }

        if (method.Name == "Start" && RaySymbols.Is(method.ContainingType, api.Process))
        {
            context.ReportDiagnostic(Diagnostic.Create(
                DiagnosticDescriptors.NestedRuntimeInRemoteCode,
                invocation.Syntax.GetLocation(),
                owner.DisplayName,
                "Process.Start",
                "a process Ray does not know about escapes its resource accounting and outlives failures; run the work as a task or an actor"));
            return;
        }

        // A static collection, even a readonly one, is mutable state when remote code changes its contents.
        if (invocation.Instance is IMemberReferenceOperation { Member: var holder } instance &&
            IsStaticUserState(holder, api) && ChangesContents(instance, api))
        {
            Report(context, owner, "changes the contents of", holder is IFieldSymbol ? "field" : "property", holder);
        }
    }

    /// <summary><paramref name="reference"/> is the collection of a mutating call or of an assigned indexer.</summary>
    private static bool ChangesContents(IMemberReferenceOperation reference, RayApi api)
    {
        if (!IsCollection(reference.Type))
        {
            return false;
        }

        return reference.Parent switch
        {
            IInvocationOperation invocation => invocation.Instance == reference && MutatingCollectionMethods.Contains(invocation.TargetMethod.Name) &&
                !api.IsFromRaySharp(invocation.TargetMethod),
            IPropertyReferenceOperation { Property.IsIndexer: true } indexer => indexer.Instance == reference && IsWritten(indexer),
            _ => false,
        };
    }

    private static bool IsStaticUserState(ISymbol member, RayApi api) =>
        member is IFieldSymbol { IsStatic: true, IsConst: false } or IPropertySymbol { IsStatic: true } && IsInUserSource(member, api);

    private static void Report(OperationAnalysisContext context, RemoteMember owner, string verb, string kind, ISymbol member) =>
        context.ReportDiagnostic(Diagnostic.Create(
            DiagnosticDescriptors.GlobalStateInRemoteCode,
            context.Operation.Syntax.GetLocation(),
            owner.DisplayName,
            verb,
            kind,
            member.ContainingType.Name + "." + member.Name));

    // A private field or setter can only be written by its own type: if remote code only reads it, nothing
    // the driver does can make the worker's copy differ, so such reads stay silent.
    private static bool IsWritableOutsideItsType(Accessibility accessibility) => accessibility != Accessibility.Private;

    private static bool IsInUserSource(ISymbol member, RayApi api) =>
        SymbolEqualityComparer.Default.Equals(member.ContainingAssembly, api.Compilation.Assembly) && !member.IsImplicitlyDeclared;

    private static bool IsCollection(ITypeSymbol? type) =>
        type is not null && type.SpecialType != SpecialType.System_String &&
        (type.SpecialType == SpecialType.System_Collections_IEnumerable ||
         type.AllInterfaces.Any(i => i.SpecialType == SpecialType.System_Collections_IEnumerable));

    private static bool IsWritten(IOperation reference)
    {
        // Element access (s_counts[k] = v) writes the member's contents, not the member: that is the
        // collection case, reported as a read of a non-readonly field or through the invocation rule.
        var parent = reference.Parent;
        return parent switch
        {
            IAssignmentOperation assignment => assignment.Target == reference,
            IIncrementOrDecrementOperation => true,
            IArgumentOperation { Parameter.RefKind: RefKind.Ref or RefKind.Out } => true,
            _ => false,
        };
    }
}
