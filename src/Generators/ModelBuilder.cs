using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using RaySharp.Generators.Model;
using RaySharp.Internal;

namespace RaySharp.Generators;

/// <summary>
/// Turns the symbols of <c>[RayRemote]</c> targets into models. Anything the generator cannot emit valid code for
/// (non-partial or generic types, ref parameters, unsupported return shapes, error types) yields null or is left
/// out: the analyzers report those, the generator stays quiet.
/// </summary>
internal static class ModelBuilder
{
    internal const string RayRemoteAttribute = "RaySharp.RayRemoteAttribute";
    private const string RayMethodAttribute = "RaySharp.RayMethodAttribute";

    /// <summary>Types as written in generated code: <c>global::</c>-qualified, keywords for special types, with <c>?</c> annotations.</summary>
    private static readonly SymbolDisplayFormat s_codeFormat = SymbolDisplayFormat.FullyQualifiedFormat
        .AddMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.IncludeNullableReferenceTypeModifier);

    /// <summary>Types as written in signatures (see docs/generated-code.md): fully qualified without <c>global::</c>.</summary>
    private static readonly SymbolDisplayFormat s_signatureFormat = SymbolDisplayFormat.FullyQualifiedFormat
        .WithGlobalNamespaceStyle(SymbolDisplayGlobalNamespaceStyle.Omitted);

    public static RemoteFunctionTarget? BuildFunction(GeneratorAttributeSyntaxContext context, CancellationToken ct)
    {
        if (context.TargetSymbol is not IMethodSymbol { MethodKind: MethodKind.Ordinary, IsStatic: true } method)
            return null;
        var type = BuildType(method.ContainingType, ct);
        if (type is null) return null;

        var attribute = context.Attributes.FirstOrDefault();
        var named = NamedArguments(attribute);
        int numReturns = named.TryGetValue("NumReturns", out var n) && n.Value is int i ? i : 0;
        string remoteName = named.TryGetValue("Name", out var nameArg) && nameArg.Value is string { Length: > 0 } s ? s : method.Name;

        var function = BuildMethod(method, type.SignatureName, remoteName, numReturns, TaskOptions(named), null, null, ct);
        return function is null ? null : new RemoteFunctionTarget(type, function);
    }

    public static ActorClassTarget? BuildActor(GeneratorAttributeSyntaxContext context, CancellationToken ct)
    {
        if (context.TargetSymbol is not INamedTypeSymbol { TypeKind: TypeKind.Class, IsStatic: false, IsAbstract: false } symbol)
            return null;
        var type = BuildType(symbol, ct);
        if (type is null) return null;

        var named = NamedArguments(context.Attributes.FirstOrDefault());
        // [RayRemote(Name = …)] on a class replaces the whole "Namespace.Type" in its functions' signatures, so
        // that renaming or moving the class keeps function IDs stable.
        string classPath = named.TryGetValue("Name", out var nameArg) && nameArg.Value is string { Length: > 0 } s ? s : type.SignatureName;

        var constructors = new List<FunctionModel>();
        foreach (var ctor in symbol.InstanceConstructors)
        {
            ct.ThrowIfCancellationRequested();
            if (ctor.DeclaredAccessibility != Accessibility.Public) continue;
            var model = BuildMethod(ctor, classPath, ".ctor", 0, EquatableArray<OptionModel>.Empty, null, null, ct);
            if (model is not null) constructors.Add(model);
        }

        var methods = new List<FunctionModel>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var current = symbol; current is not null && current.SpecialType != SpecialType.System_Object; current = current.BaseType)
        {
            // Base classes count when they are the user's own code; public methods of library base types are not
            // part of the actor's remote surface.
            if (!SymbolEqualityComparer.Default.Equals(current, symbol) && !current.Locations.Any(l => l.IsInSource)) break;
            foreach (var member in current.GetMembers())
            {
                ct.ThrowIfCancellationRequested();
                if (member is not IMethodSymbol m || !IsActorMethod(symbol, m)) continue;
                // A method hidden or overridden by one already seen in a derived class is not callable as itself.
                string key = m.Name + "(" + string.Join(",", m.Parameters.Select(p => p.Type.ToDisplayString(s_signatureFormat))) + ")";
                if (!seen.Add(key)) continue;

                var rayMethod = m.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == RayMethodAttribute);
                var options = NamedArguments(rayMethod);
                int numReturns = options.TryGetValue("NumReturns", out var n) && n.Value is int i ? i : 0;
                string name = options.TryGetValue("Name", out var mn) && mn.Value is string { Length: > 0 } ms ? ms : m.Name;
                int? maxTaskRetries = options.TryGetValue("MaxTaskRetries", out var r) && r.Value is int ri ? ri : null;
                bool? retryExceptions = options.TryGetValue("RetryExceptions", out var e) && e.Value is bool eb ? eb : null;

                var model = BuildMethod(m, classPath, name, numReturns, EquatableArray<OptionModel>.Empty, maxTaskRetries, retryExceptions, ct);
                if (model is not null) methods.Add(model);
            }
        }

        var actor = new ActorModel(
            classPath,
            ActorOptions(named),
            methods.Any(m => m.Return.IsAsync),
            constructors.ToEquatableArray(),
            methods.ToEquatableArray());
        return new ActorClassTarget(type, actor);
    }

    private static bool IsActorMethod(INamedTypeSymbol actor, IMethodSymbol m)
    {
        if (m.MethodKind != MethodKind.Ordinary || m.IsStatic || m.IsImplicitlyDeclared || !m.CanBeReferencedByName)
            return false;
        if (m.DeclaredAccessibility != Accessibility.Public) return false;
        // Overrides of object's members (ToString, Equals, GetHashCode) are not remote methods.
        for (var o = m; o is not null; o = o.OverriddenMethod)
        {
            if (o.ContainingType.SpecialType == SpecialType.System_Object) return false;
        }
        return !ImplementsDispose(actor, m);
    }

    private static bool ImplementsDispose(INamedTypeSymbol actor, IMethodSymbol m)
    {
        if (m.Name is not ("Dispose" or "DisposeAsync") || m.Parameters.Length != 0) return false;
        foreach (var iface in actor.AllInterfaces)
        {
            string name = iface.ToDisplayString();
            if (name is not ("System.IDisposable" or "System.IAsyncDisposable")) continue;
            foreach (var member in iface.GetMembers(m.Name))
            {
                if (SymbolEqualityComparer.Default.Equals(actor.FindImplementationForInterfaceMember(member), m)) return true;
            }
        }
        return false;
    }

    /// <summary>The model of <paramref name="type"/>, or null if generated code cannot extend it.</summary>
    private static TypeModel? BuildType(INamedTypeSymbol type, CancellationToken ct)
    {
        var declarations = new List<TypeDeclarationModel>();
        bool isPublic = true;
        for (var t = type; t is not null; t = t.ContainingType)
        {
            ct.ThrowIfCancellationRequested();
            if (t.IsGenericType || t.IsFileLocal) return null;
            string? keyword = t switch
            {
                { TypeKind: TypeKind.Class, IsRecord: true } => "record",
                { TypeKind: TypeKind.Class } => "class",
                { TypeKind: TypeKind.Struct, IsRecord: true } => "record struct",
                { TypeKind: TypeKind.Struct } => "struct",
                _ => null,
            };
            if (keyword is null) return null;
            switch (t.DeclaredAccessibility)
            {
                case Accessibility.Public:
                    break;
                case Accessibility.Internal:
                case Accessibility.ProtectedOrInternal:
                    isPublic = false;
                    break;
                default:
                    // The module initializer must be reachable from the module: private or protected types cannot register.
                    return null;
            }
            if (t.DeclaringSyntaxReferences.Length == 0) return null;
            foreach (var reference in t.DeclaringSyntaxReferences)
            {
                if (reference.GetSyntax(ct) is not TypeDeclarationSyntax syntax
                    || !syntax.Modifiers.Any(SyntaxKind.PartialKeyword))
                    return null;
            }
            declarations.Insert(0, new TypeDeclarationModel(keyword, Escape(t.Name)));
        }

        string ns = type.ContainingNamespace is { IsGlobalNamespace: false } n ? n.ToDisplayString() : "";
        return new TypeModel(
            ns,
            declarations.ToEquatableArray(),
            type.ToDisplayString(s_codeFormat),
            type.ToDisplayString(s_signatureFormat),
            isPublic);
    }

    private static FunctionModel? BuildMethod(
        IMethodSymbol method, string typePath, string name, int numReturns, EquatableArray<OptionModel> options,
        int? maxTaskRetries, bool? retryExceptions, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        if (method.IsGenericMethod || method.ReturnsByRef || method.ReturnsByRefReadonly) return null;

        var parameters = new List<ParameterModel>();
        var signatureTypes = new List<string>();
        foreach (var p in method.Parameters)
        {
            if (p.RefKind != RefKind.None || IsUnusable(p.Type)) return null;
            var viewElement = ObjectViewElement(p.Type);
            var kind = IsCancellationToken(p.Type) ? ParameterKind.CancellationToken
                : viewElement is not null ? ParameterKind.View
                : HoldsRefs(p.Type, 0) ? ParameterKind.RefHolding
                : ParameterKind.Value;
            string paramName = p.Name.Length == 0 ? "arg" + p.Ordinal.ToString(CultureInfo.InvariantCulture) : Escape(p.Name);
            parameters.Add(new ParameterModel(paramName, p.Type.ToDisplayString(s_codeFormat), kind, viewElement?.ToDisplayString(s_codeFormat)));
            if (kind != ParameterKind.CancellationToken) signatureTypes.Add(p.Type.ToDisplayString(s_signatureFormat));
        }

        var returns = method.MethodKind == MethodKind.Constructor
            ? new ReturnModel(ReturnShape.Void, false, null, EquatableArray<TupleElementModel>.Empty)
            : BuildReturn(method, numReturns);
        if (returns is null) return null;

        string signature = typePath + "." + name + "(" + string.Join(",", signatureTypes) + ")";
        return new FunctionModel(
            method.MethodKind == MethodKind.Constructor ? "" : Escape(method.Name),
            signature,
            FunctionIdHash.Compute(signature),
            typePath + "." + name,
            parameters.ToEquatableArray(),
            returns,
            method.DeclaredAccessibility == Accessibility.Public ? "public" : "internal",
            options,
            maxTaskRetries,
            retryExceptions);
    }

    private static ReturnModel? BuildReturn(IMethodSymbol method, int numReturns)
    {
        var empty = EquatableArray<TupleElementModel>.Empty;
        if (method.ReturnsVoid) return numReturns > 1 ? null : new ReturnModel(ReturnShape.Void, false, null, empty);

        var type = method.ReturnType;
        if (IsUnusable(type)) return null;
        bool awaited = false;
        if (type is INamedTypeSymbol named && named.ContainingNamespace?.ToDisplayString() is { } ns)
        {
            string metadataName = named.MetadataName;
            if (ns == "System.Threading.Tasks" && metadataName is "Task" or "ValueTask")
                return numReturns > 1 ? null : new ReturnModel(ReturnShape.Void, true, null, empty);
            if (ns == "System.Threading.Tasks" && metadataName is "Task`1" or "ValueTask`1")
            {
                type = named.TypeArguments[0];
                awaited = true;
            }
            else if (ns == "System.Collections.Generic" && metadataName == "IAsyncEnumerable`1")
            {
                return numReturns > 1 ? null
                    : new ReturnModel(ReturnShape.Streaming, false, named.TypeArguments[0].ToDisplayString(s_codeFormat), empty);
            }
        }

        if (numReturns <= 1) return new ReturnModel(ReturnShape.Value, awaited, type.ToDisplayString(s_codeFormat), empty);
        if (type is not INamedTypeSymbol { IsTupleType: true } tuple || tuple.TupleElements.Length != numReturns) return null;
        var elements = tuple.TupleElements
            .Select(e => new TupleElementModel(
                e.Type.ToDisplayString(s_codeFormat),
                e.IsExplicitlyNamedTupleElement ? Escape(e.Name) : null))
            .ToEquatableArray();
        return new ReturnModel(ReturnShape.Multiple, awaited, null, elements);
    }

    /// <summary>Error types (missing references, typos), pointers and the like: no valid code can name them.</summary>
    private static bool IsUnusable(ITypeSymbol type) => type switch
    {
        IErrorTypeSymbol => true,
        IPointerTypeSymbol or IFunctionPointerTypeSymbol or IDynamicTypeSymbol => true,
        { IsRefLikeType: true } => true,
        IArrayTypeSymbol array => IsUnusable(array.ElementType),
        INamedTypeSymbol named => named.TypeArguments.Any(IsUnusable),
        _ => type.TypeKind == TypeKind.TypeParameter,
    };

    private static bool IsCancellationToken(ITypeSymbol type) =>
        type is INamedTypeSymbol { Name: "CancellationToken", ContainingNamespace: { } ns } && ns.ToDisplayString() == "System.Threading";

    /// <summary>The <c>T</c> of <c>RaySharp.ObjectView&lt;T&gt;</c>, or null for any other type.</summary>
    private static ITypeSymbol? ObjectViewElement(ITypeSymbol type) =>
        type is INamedTypeSymbol { Name: "ObjectView", TypeArguments.Length: 1, ContainingNamespace: { } ns } named
            && ns.ToDisplayString() == "RaySharp"
            ? named.TypeArguments[0]
            : null;

    /// <summary>Whether a value of <paramref name="type"/> carries object refs or actor handles, which the callee must
    /// receive as refs (borrowing them) rather than have resolved.</summary>
    private static bool HoldsRefs(ITypeSymbol type, int depth)
    {
        if (depth > 8) return false;
        switch (type)
        {
            case IArrayTypeSymbol array:
                return HoldsRefs(array.ElementType, depth + 1);
            case INamedTypeSymbol named:
                if (named.Name is "ObjectRef" or "ActorHandle" or "ObjectRefStream"
                    && named.ContainingNamespace?.ToDisplayString() == "RaySharp")
                    return true;
                if (named.IsTupleType)
                    return named.TupleElements.Any(e => HoldsRefs(e.Type, depth + 1));
                return named.TypeArguments.Any(t => HoldsRefs(t, depth + 1));
            default:
                return false;
        }
    }

    private static Dictionary<string, TypedConstant> NamedArguments(AttributeData? attribute)
    {
        var result = new Dictionary<string, TypedConstant>(StringComparer.Ordinal);
        if (attribute is null) return result;
        foreach (var pair in attribute.NamedArguments)
        {
            if (pair.Value.Kind != TypedConstantKind.Error) result[pair.Key] = pair.Value;
        }
        return result;
    }

    private static EquatableArray<OptionModel> TaskOptions(Dictionary<string, TypedConstant> named)
    {
        var options = new List<OptionModel>();
        AddDouble(options, named, "NumCpus");
        AddDouble(options, named, "NumGpus");
        AddLong(options, named, "Memory");
        AddResources(options, named);
        AddInt(options, named, "MaxRetries");
        AddBool(options, named, "RetryExceptions");
        AddBool(options, named, "EnableTaskEvents");
        return options.ToEquatableArray();
    }

    private static EquatableArray<OptionModel> ActorOptions(Dictionary<string, TypedConstant> named)
    {
        var options = new List<OptionModel>();
        AddDouble(options, named, "NumCpus");
        AddDouble(options, named, "NumGpus");
        AddLong(options, named, "Memory");
        AddResources(options, named);
        AddInt(options, named, "MaxRestarts");
        AddInt(options, named, "MaxTaskRetries");
        AddInt(options, named, "MaxConcurrency");
        AddBool(options, named, "EnableTaskEvents");
        return options.ToEquatableArray();
    }

    private static void AddDouble(List<OptionModel> options, Dictionary<string, TypedConstant> named, string name)
    {
        if (named.TryGetValue(name, out var c) && c.Value is double d) options.Add(new OptionModel(name, Literal(d)));
    }

    private static void AddLong(List<OptionModel> options, Dictionary<string, TypedConstant> named, string name)
    {
        if (named.TryGetValue(name, out var c) && c.Value is long l)
            options.Add(new OptionModel(name, l.ToString(CultureInfo.InvariantCulture)));
    }

    private static void AddInt(List<OptionModel> options, Dictionary<string, TypedConstant> named, string name)
    {
        if (named.TryGetValue(name, out var c) && c.Value is int i)
            options.Add(new OptionModel(name, i.ToString(CultureInfo.InvariantCulture)));
    }

    private static void AddBool(List<OptionModel> options, Dictionary<string, TypedConstant> named, string name)
    {
        if (named.TryGetValue(name, out var c) && c.Value is bool b) options.Add(new OptionModel(name, b ? "true" : "false"));
    }

    /// <summary><c>Resources = ["name=amount", …]</c> as a dictionary initializer; malformed entries are left out
    /// (the analyzers report them).</summary>
    private static void AddResources(List<OptionModel> options, Dictionary<string, TypedConstant> named)
    {
        if (!named.TryGetValue("Resources", out var c) || c.Kind != TypedConstantKind.Array || c.IsNull) return;
        var entries = new List<string>();
        foreach (var item in c.Values)
        {
            if (item.Value is not string text) continue;
            int eq = text.IndexOf('=');
            if (eq <= 0) continue;
            string key = text.Substring(0, eq).Trim();
            string amount = text.Substring(eq + 1).Trim();
            if (key.Length == 0
                || !double.TryParse(amount, NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
                || double.IsNaN(value) || double.IsInfinity(value) || value < 0)
                continue;
            entries.Add("[" + SymbolDisplay.FormatLiteral(key, quote: true) + "] = " + Literal(value));
        }
        if (entries.Count == 0) return;
        options.Add(new OptionModel(
            "Resources",
            "new global::System.Collections.Generic.Dictionary<string, double> { " + string.Join(", ", entries) + " }"));
    }

    private static string Literal(double value)
    {
        if (double.IsNaN(value)) return "double.NaN";
        if (double.IsPositiveInfinity(value)) return "double.PositiveInfinity";
        if (double.IsNegativeInfinity(value)) return "double.NegativeInfinity";
        return value.ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary>Prefixes <c>@</c> to identifiers that are C# keywords.</summary>
    internal static string Escape(string identifier) =>
        SyntaxFacts.GetKeywordKind(identifier) != SyntaxKind.None ? "@" + identifier : identifier;
}
