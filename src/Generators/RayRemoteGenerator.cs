using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using RaySharp.Generators.Emit;
using RaySharp.Generators.Model;

namespace RaySharp.Generators;

/// <summary>
/// Emits proxies, descriptors, invokers and registration for every type holding <c>[RayRemote]</c> members
/// (docs/generated-code.md). Reports no diagnostics: misuse is the analyzers' job, and what cannot be generated is
/// skipped.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class RayRemoteGenerator : IIncrementalGenerator
{
    /// <summary>Tracking names of the pipeline's steps, for incremental-caching tests.</summary>
    internal static class TrackingNames
    {
        /// <summary>Static methods marked <c>[RayRemote]</c>, as models.</summary>
        public const string RemoteFunctions = nameof(RemoteFunctions);

        /// <summary>Classes marked <c>[RayRemote]</c>, as models.</summary>
        public const string ActorClasses = nameof(ActorClasses);

        /// <summary>All function models.</summary>
        public const string CollectedFunctions = nameof(CollectedFunctions);

        /// <summary>All actor models.</summary>
        public const string CollectedActors = nameof(CollectedActors);

        /// <summary>Function and actor models together.</summary>
        public const string Combined = nameof(Combined);

        /// <summary>One model per generated file.</summary>
        public const string Files = nameof(Files);

        /// <summary>All names, for tests.</summary>
        public static readonly ImmutableArray<string> All =
            ImmutableArray.Create(RemoteFunctions, ActorClasses, CollectedFunctions, CollectedActors, Combined, Files);
    }

    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var functions = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                ModelBuilder.RayRemoteAttribute,
                static (node, _) => node is MethodDeclarationSyntax,
                static (ctx, ct) => ModelBuilder.BuildFunction(ctx, ct))
            .WithTrackingName(TrackingNames.RemoteFunctions);

        var actors = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                ModelBuilder.RayRemoteAttribute,
                static (node, _) => node is ClassDeclarationSyntax or RecordDeclarationSyntax,
                static (ctx, ct) => ModelBuilder.BuildActor(ctx, ct))
            .WithTrackingName(TrackingNames.ActorClasses);

        var files = functions.Collect().WithTrackingName(TrackingNames.CollectedFunctions)
            .Combine(actors.Collect().WithTrackingName(TrackingNames.CollectedActors))
            .WithTrackingName(TrackingNames.Combined)
            .SelectMany(static (pair, _) => Group(pair.Left, pair.Right))
            .WithTrackingName(TrackingNames.Files);

        context.RegisterSourceOutput(files, static (spc, file) => spc.AddSource(file.HintName, Emitter.Emit(file)));
    }

    /// <summary>One file model per type, in order of first appearance.</summary>
    private static ImmutableArray<TypeFileModel> Group(
        ImmutableArray<RemoteFunctionTarget?> functions, ImmutableArray<ActorClassTarget?> actors)
    {
        var order = new List<TypeModel>();
        var byType = new Dictionary<TypeModel, (List<FunctionModel> Functions, ActorModel? Actor)>();
        foreach (var target in functions)
        {
            if (target is null) continue;
            if (!byType.TryGetValue(target.Type, out var entry))
            {
                entry = (new List<FunctionModel>(), null);
                order.Add(target.Type);
            }
            entry.Functions.Add(target.Function);
            byType[target.Type] = entry;
        }
        foreach (var target in actors)
        {
            if (target is null) continue;
            if (!byType.TryGetValue(target.Type, out var entry))
            {
                entry = (new List<FunctionModel>(), null);
                order.Add(target.Type);
            }
            // A duplicated attribute (an error) on two partial declarations yields the class twice: keep one.
            entry.Actor ??= target.Actor;
            byType[target.Type] = entry;
        }

        // Files are named after the type ("Counter.RaySharp.g.cs", "Outer.Inner.RaySharp.g.cs"); types of the same
        // name in different namespaces get the namespace too.
        var nameCounts = order.GroupBy(t => t.NestedName).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        return order.Select(t =>
        {
            var (list, actor) = byType[t];
            string hint = nameCounts[t.NestedName] > 1 && t.Namespace.Length > 0 ? t.Namespace + "." + t.NestedName : t.NestedName;
            return new TypeFileModel(hint.Replace("@", "") + ".RaySharp.g.cs", t, list.ToEquatableArray(), actor);
        }).ToImmutableArray();
    }
}
