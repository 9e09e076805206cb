namespace RaySharp.Generators.Model;

// The pipeline's models: plain value-equatable records built from symbols in the first step, so that an edit
// which does not change what is generated leaves every later step Cached or Unchanged.

/// <summary>A type holding <c>[RayRemote]</c> members, and every type containing it.</summary>
/// <param name="Namespace">The namespace (empty for the global namespace).</param>
/// <param name="Declarations">The type and its containing types, outermost first.</param>
/// <param name="FullyQualifiedName">E.g. <c>global::MyApp.Outer.Inner</c>.</param>
/// <param name="SignatureName">E.g. <c>MyApp.Outer.Inner</c>: the type part of function signatures.</param>
/// <param name="IsPublic">Public, and so are its containing types.</param>
internal sealed record TypeModel(
    string Namespace,
    EquatableArray<TypeDeclarationModel> Declarations,
    string FullyQualifiedName,
    string SignatureName,
    bool IsPublic)
{
    /// <summary>The type's simple name (escaped if it is a keyword).</summary>
    public string Name => Declarations[Declarations.Count - 1].Name;

    /// <summary>Containing types and the type, joined with <c>.</c>: <c>Outer.Inner</c>.</summary>
    public string NestedName => string.Join(".", System.Linq.Enumerable.Select(Declarations, d => d.Name));
}

/// <summary>One type declaration to reopen as <c>partial</c>.</summary>
/// <param name="Keyword"><c>class</c>, <c>struct</c>, <c>record</c> or <c>record struct</c>.</param>
internal sealed record TypeDeclarationModel(string Keyword, string Name);

/// <summary>How the generated code passes a parameter.</summary>
internal enum ParameterKind
{
    /// <summary>A value (or a ref to resolve first): <c>Arg&lt;T&gt;</c> in the proxy.</summary>
    Value,
    /// <summary>The type holds refs or handles: kept as <c>T</c> in the proxy, the callee receives the refs.</summary>
    RefHolding,
    /// <summary>A <c>CancellationToken</c>, supplied by the runtime; not an argument.</summary>
    CancellationToken,
    /// <summary>An <c>ObjectView&lt;T&gt;</c>: <c>Arg&lt;T[]&gt;</c> in the proxy, a view of the argument's bytes in the invoker.</summary>
    View,
}

/// <param name="Name">The parameter name, escaped if it is a keyword.</param>
/// <param name="Type">Fully qualified, with nullable annotations.</param>
/// <param name="ElementType">For <see cref="ParameterKind.View"/>: the <c>T</c> of <c>ObjectView&lt;T&gt;</c>, fully qualified.</param>
internal sealed record ParameterModel(string Name, string Type, ParameterKind Kind, string? ElementType = null);

/// <summary>What a remote function returns, as the runtime sees it.</summary>
internal enum ReturnShape
{
    Value,
    Void,
    Multiple,
    Streaming,
}

/// <param name="Name">The explicit tuple element name, or null.</param>
internal sealed record TupleElementModel(string Type, string? Name);

/// <param name="Shape">How results come back.</param>
/// <param name="IsAwaited">The method returns a <c>Task</c>/<c>ValueTask</c> the invoker awaits.</param>
/// <param name="ResultType">The value type (Value), item type (Streaming); null otherwise.</param>
/// <param name="Elements">Tuple elements (Multiple).</param>
internal sealed record ReturnModel(
    ReturnShape Shape,
    bool IsAwaited,
    string? ResultType,
    EquatableArray<TupleElementModel> Elements)
{
    public bool IsAsync => IsAwaited || Shape == ReturnShape.Streaming;
}

/// <summary>One property of an options initializer: <c>Property = Expression</c>.</summary>
internal sealed record OptionModel(string Property, string Expression);

/// <summary>A remote static function, actor constructor or actor method.</summary>
/// <param name="MethodName">The C# method name (escaped); empty for constructors.</param>
/// <param name="Signature">The canonical signature the ID is computed from.</param>
/// <param name="FunctionId">FNV-1a 64 of <paramref name="Signature"/>.</param>
/// <param name="RemoteName">The descriptor's <c>Name</c>, e.g. <c>MyApp.MathTasks.Add</c>.</param>
/// <param name="Accessibility">The proxy's accessibility: <c>public</c> or <c>internal</c>.</param>
/// <param name="Options">Static functions: the <c>TaskOptions</c> set in <c>[RayRemote]</c>.</param>
/// <param name="MaxTaskRetries">Actor methods: <c>[RayMethod(MaxTaskRetries = …)]</c>.</param>
/// <param name="RetryExceptions">Actor methods: <c>[RayMethod(RetryExceptions = …)]</c>.</param>
internal sealed record FunctionModel(
    string MethodName,
    string Signature,
    ulong FunctionId,
    string RemoteName,
    EquatableArray<ParameterModel> Parameters,
    ReturnModel Return,
    string Accessibility,
    EquatableArray<OptionModel> Options,
    int? MaxTaskRetries,
    bool? RetryExceptions)
{
    /// <summary>Number of arguments the caller sends (CancellationToken parameters excluded).</summary>
    public int ArgumentCount
    {
        get
        {
            int count = 0;
            foreach (var p in Parameters)
            {
                if (p.Kind != ParameterKind.CancellationToken) count++;
            }
            return count;
        }
    }
}

/// <summary>An actor class.</summary>
/// <param name="Name">The class descriptor's name (full name or the <c>[RayRemote(Name = …)]</c> override).</param>
/// <param name="Options">The <c>ActorOptions</c> set in <c>[RayRemote]</c>.</param>
internal sealed record ActorModel(
    string Name,
    EquatableArray<OptionModel> Options,
    bool HasAsyncMethods,
    EquatableArray<FunctionModel> Constructors,
    EquatableArray<FunctionModel> Methods);

/// <summary>Output of the method step: one remote static function and its type.</summary>
internal sealed record RemoteFunctionTarget(TypeModel Type, FunctionModel Function);

/// <summary>Output of the class step: one actor class.</summary>
internal sealed record ActorClassTarget(TypeModel Type, ActorModel Actor);

/// <summary>Everything generated for one type: its file.</summary>
/// <param name="HintName">The generated file's name.</param>
internal sealed record TypeFileModel(
    string HintName,
    TypeModel Type,
    EquatableArray<FunctionModel> Functions,
    ActorModel? Actor);
