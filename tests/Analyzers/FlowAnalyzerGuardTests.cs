using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Testing;
using RaySharp.Analyzers.Tests.Verifiers;
using Xunit;

namespace RaySharp.Analyzers.Tests;

/// <summary>The flow analyzers (RAY010-RAY107) do nothing in a compilation that does not reference RaySharp.</summary>
public class FlowAnalyzerGuardTests
{
    // Look-alikes of RaySharp's API with the same simple names, from another library in a project without
    // RaySharp: matching by simple name would report RAY010, RAY011, RAY101 and RAY103 here.
    private const string LookAlikes = """
        using System;
        using System.Collections.Generic;
        using System.Threading;

        namespace OtherLibrary
        {
            public sealed class RayRemoteAttribute : Attribute { }
            public class ObjectRef<T> { public T Get() => default!; }
            public static class Ray
            {
                public static ObjectRef<T> Put<T>(T value) => new();
                public static T Get<T>(ObjectRef<T> r) => r.Get();
            }
        }

        namespace App
        {
            using OtherLibrary;

            public static partial class Tasks
            {
                private static ObjectRef<int>? s_last;
                private static Timer? s_timer;

                [RayRemote]
                public static ObjectRef<int> Make(int n) => Ray.Put(n);

                public static int Run(int n)
                {
                    var total = 0;
                    for (var i = 0; i < n; i++) total += Ray.Get(Make(i));
                    var r = Make(1);
                    s_timer = new Timer(_ => r.Get(), null, 0, 100);
                    s_last = r;
                    return total;
                }
            }
        }
        """;

    [Fact]
    public Task Reference_leaks() => RunAsync<ReferenceLeakAnalyzer>();

    [Fact]
    public Task Remote_method_bodies() => RunAsync<RemoteMethodBodyAnalyzer>();

    [Fact]
    public Task Get_patterns() => RunAsync<GetPatternAnalyzer>();

    [Fact]
    public Task Task_granularity() => RunAsync<TaskGranularityAnalyzer>();

    private static Task RunAsync<TAnalyzer>()
        where TAnalyzer : DiagnosticAnalyzer, new() =>
        new CSharpAnalyzerTest<TAnalyzer, DefaultVerifier> { TestCode = LookAlikes, ReferenceAssemblies = TestEnvironment.Net10 }.RunAsync();
}
