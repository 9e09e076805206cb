using System.Buffers;
using Grpc.Core;
using RaySharp.Core;
using RaySharp.Core.Rpc;
using Xunit;

namespace RaySharp.Tests.Components;

/// <summary>
/// The marshallers hand gRPC each message with its length given first (gRPC then writes it into a pooled buffer instead
/// of growing an array of its own), from a buffer each thread reuses: messages of every size, one after another, arrive
/// whole and as sent.
/// </summary>
public sealed class RpcMarshallerTests
{
    /// <summary>gRPC's side of a serialization, as its contract goes: a length may be given, then a writer asked for.</summary>
    private sealed class RecordingContext : SerializationContext
    {
        private readonly ArrayBufferWriter<byte> _written = new();

        public int? PayloadLength { get; private set; }
        public bool Completed { get; private set; }
        public ReadOnlySequence<byte> Payload => new(_written.WrittenMemory);

        public override void SetPayloadLength(int payloadLength) => PayloadLength = payloadLength;

        public override IBufferWriter<byte> GetBufferWriter() => _written;

        public override void Complete() => Completed = true;

        public override void Complete(byte[] payload) => throw new InvalidOperationException("The marshaller writes through the buffer writer.");
    }

    private static ReleasePinsRequest Sent(RecordingContext context)
    {
        Assert.True(context.Completed);
        Assert.Equal(context.PayloadLength, (int)context.Payload.Length);
        return RpcMarshaller.Decode<ReleasePinsRequest>(context.Payload);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(1000)]
    [InlineData(100_000)] // a few MB: more than a thread keeps between messages
    public void Messages_of_every_size_are_written_whole_with_their_length_given_first(int ids)
    {
        var marshaller = RpcMarshaller.For<ReleasePinsRequest>();
        var request = new ReleasePinsRequest([.. Enumerable.Range(0, ids).Select(i => ObjectId.ForPut(TaskId.ForNormalTask(new JobId(1)), i + 1))]);
        var context = new RecordingContext();

        marshaller.ContextualSerializer(request, context);

        Assert.Equal(request.Ids, Sent(context).Ids);
    }

    [Fact]
    public void A_small_message_after_a_large_one_carries_nothing_of_it()
    {
        var marshaller = RpcMarshaller.For<ReleasePinsRequest>();
        var job = new JobId(2);
        var large = new ReleasePinsRequest([.. Enumerable.Range(0, 50_000).Select(i => ObjectId.ForPut(TaskId.ForNormalTask(job), i + 1))]);
        var small = new ReleasePinsRequest([ObjectId.ForPut(TaskId.ForNormalTask(job), 7)]);
        marshaller.ContextualSerializer(large, new RecordingContext());
        marshaller.ContextualSerializer(small, new RecordingContext());

        var context = new RecordingContext();
        marshaller.ContextualSerializer(small, context);

        Assert.Equal(small.Ids, Sent(context).Ids);
        Assert.Equal(MemoryPack.MemoryPackSerializer.Serialize(small).Length, context.PayloadLength);
    }

    [Fact]
    public void Resource_sets_with_the_same_amounts_are_one_scheduling_key_whatever_their_order()
    {
        var a = ResourceSet.Of(("CPU", 1), ("GPU", 0.5), ("memory", 1024));
        var b = ResourceSet.Of(("memory", 1024), ("CPU", 1), ("GPU", 0.5));
        var c = ResourceSet.Of(("CPU", 1), ("GPU", 0.25), ("memory", 1024));

        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, c);
        Assert.Equal(new Dictionary<string, double> { ["CPU"] = 1, ["GPU"] = 0.5, ["memory"] = 1024 }, a.SharedWireDictionary);
    }
}
