using System.Buffers;
using Google.Protobuf;

namespace Relay.Grpc;

/// <summary>Turns messages of type <typeparamref name="T"/> into bytes and back.</summary>
public sealed class Marshaller<T>
{
    /// <summary>Creates a marshaller.</summary>
    /// <param name="serializer">Writes a message into a buffer writer.</param>
    /// <param name="deserializer">Reads a message from its bytes.</param>
    /// <param name="sizer">Optional: the serialized size of a message, which lets the layer write straight
    /// into the transport without an intermediate copy.</param>
    public Marshaller(Action<T, IBufferWriter<byte>> serializer, Func<ReadOnlySequence<byte>, T> deserializer, Func<T, int>? sizer = null)
    {
        Serializer = serializer ?? throw new ArgumentNullException(nameof(serializer));
        Deserializer = deserializer ?? throw new ArgumentNullException(nameof(deserializer));
        Sizer = sizer;
    }

    /// <summary>Writes a message into a buffer writer.</summary>
    public Action<T, IBufferWriter<byte>> Serializer { get; }

    /// <summary>Reads a message from its bytes.</summary>
    public Func<ReadOnlySequence<byte>, T> Deserializer { get; }

    /// <summary>The serialized size of a message, when it is cheap to know in advance.</summary>
    public Func<T, int>? Sizer { get; }
}

/// <summary>Factory methods for marshallers.</summary>
public static class Marshallers
{
    /// <summary>A marshaller for a generated protobuf message type.</summary>
    public static Marshaller<T> Protobuf<T>(MessageParser<T> parser)
        where T : IMessage<T>
    {
        ArgumentNullException.ThrowIfNull(parser);
        return new Marshaller<T>(
            static (message, writer) => message.WriteTo(writer),
            parser.ParseFrom,
            static message => message.CalculateSize());
    }
}
