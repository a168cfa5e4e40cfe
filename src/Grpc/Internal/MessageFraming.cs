using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;

namespace Relay.Grpc.Internal;

/// <summary>
/// Length-prefixed messages: a flag byte (0 plain, 1 compressed) and a 4-byte big-endian length, then the
/// bytes. DATA frame boundaries mean nothing: a message may span reads and a read may hold many messages.
/// </summary>
internal static class MessageFraming
{
    public const int HeaderSize = 5;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_scratch;

    /// <summary>Writes one framed message; the caller flushes.</summary>
    public static void WriteMessage<T>(IBufferWriter<byte> output, T message, Marshaller<T> marshaller, int? maxSendSize, string? encoding)
    {
        var compress = encoding is not null && encoding != GrpcProtocol.IdentityEncoding;
        if (!compress && marshaller.Sizer is { } sizer)
        {
            // Fast path: the size is known, so serialize straight into the transport's buffer.
            var size = sizer(message);
            CheckSendSize(size, maxSendSize);
            WriteHeader(output, compressed: false, size);
            marshaller.Serializer(message, output);
            return;
        }

        var scratch = t_scratch ??= new ArrayBufferWriter<byte>(4096);
        scratch.ResetWrittenCount();
        marshaller.Serializer(message, scratch);
        var payload = scratch.WrittenSpan;
        if (compress)
        {
            var compressed = Compression.Compress(encoding!, payload);
            CheckSendSize(compressed.Length, maxSendSize);
            WriteHeader(output, compressed: true, compressed.Length);
            output.Write(compressed);
        }
        else
        {
            CheckSendSize(payload.Length, maxSendSize);
            WriteHeader(output, compressed: false, payload.Length);
            output.Write(payload);
        }

        if (scratch.Capacity > 1024 * 1024)
        {
            // Don't keep a large buffer alive on the thread after one big message.
            t_scratch = null;
        }
    }

    private static void WriteHeader(IBufferWriter<byte> output, bool compressed, int length)
    {
        var span = output.GetSpan(HeaderSize);
        span[0] = compressed ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt32BigEndian(span[1..], (uint)length);
        output.Advance(HeaderSize);
    }

    private static void CheckSendSize(int size, int? maxSendSize)
    {
        if (maxSendSize is { } max && size > max)
        {
            throw new RpcException(new Status(StatusCode.ResourceExhausted,
                $"Sending message exceeds the maximum configured message size ({size} > {max} bytes)."));
        }
    }
}

/// <summary>Reads framed messages from a pipe, one at a time.</summary>
internal sealed class MessageReader<T>
{
    private readonly PipeReader _reader;
    private readonly Marshaller<T> _marshaller;
    private readonly int? _maxReceiveSize;
    private readonly string? _encoding;
    private readonly bool _isServer;

    public MessageReader(PipeReader reader, Marshaller<T> marshaller, int? maxReceiveSize, string? encoding, bool isServer)
    {
        _reader = reader;
        _marshaller = marshaller;
        _maxReceiveSize = maxReceiveSize;
        _encoding = encoding;
        _isServer = isServer;
    }

    /// <summary>Reads the next message. Returns false at a clean end of stream.</summary>
    public async ValueTask<(bool HasMessage, T Message)> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (result.IsCanceled)
            {
                throw new OperationCanceledException("The read was cancelled.");
            }

            if (TryParse(buffer, out var consumed, out var message))
            {
                _reader.AdvanceTo(consumed);
                return (true, message);
            }

            if (result.IsCompleted)
            {
                var remaining = buffer.Length;
                _reader.AdvanceTo(buffer.End);
                if (remaining == 0)
                {
                    return (false, default!);
                }

                throw new RpcException(new Status(StatusCode.Internal, "Incomplete message."));
            }

            // Nothing complete yet: keep what we have and wait for more.
            _reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Reads exactly one message followed by the end of the stream (unary sides).</summary>
    public async ValueTask<T> ReadSingleAsync(CancellationToken cancellationToken)
    {
        var (hasMessage, message) = await ReadAsync(cancellationToken).ConfigureAwait(false);
        if (!hasMessage)
        {
            throw new RpcException(new Status(_isServer ? StatusCode.Unimplemented : StatusCode.Internal,
                _isServer ? "Request stream ended without a message; this method takes exactly one." : "Response ended without a message."));
        }

        var (extra, _) = await ReadAsync(cancellationToken).ConfigureAwait(false);
        if (extra)
        {
            throw new RpcException(new Status(_isServer ? StatusCode.Unimplemented : StatusCode.Internal,
                "Additional data after the message; this method takes exactly one."));
        }

        return message;
    }

    private bool TryParse(ReadOnlySequence<byte> buffer, out SequencePosition consumed, out T message)
    {
        consumed = default;
        message = default!;
        if (buffer.Length < MessageFraming.HeaderSize)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[MessageFraming.HeaderSize];
        buffer.Slice(0, MessageFraming.HeaderSize).CopyTo(header);
        var flag = header[0];
        if (flag > 1)
        {
            throw new RpcException(new Status(StatusCode.Internal, $"Message has an invalid compressed flag ({flag})."));
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        if (length > int.MaxValue)
        {
            throw new RpcException(new Status(StatusCode.ResourceExhausted, "Message length is too large."));
        }

        // Checked against the prefix, before any of the body is buffered.
        if (_maxReceiveSize is { } max && length > max)
        {
            throw new RpcException(new Status(StatusCode.ResourceExhausted,
                $"Received message exceeds the maximum configured message size ({length} > {max} bytes)."));
        }

        if (buffer.Length < MessageFraming.HeaderSize + length)
        {
            return false;
        }

        var body = buffer.Slice(MessageFraming.HeaderSize, length);
        consumed = body.End;
        message = flag == 1 ? Decompress(body) : Deserialize(body);
        return true;
    }

    private T Decompress(ReadOnlySequence<byte> body)
    {
        if (_encoding is null or GrpcProtocol.IdentityEncoding)
        {
            throw new RpcException(new Status(StatusCode.Internal,
                "Message is marked compressed but the stream declares no grpc-encoding."));
        }

        byte[] bytes;
        try
        {
            bytes = Compression.Decompress(_encoding, body.IsSingleSegment ? body.FirstSpan : body.ToArray(), _maxReceiveSize);
        }
        catch (Exception ex) when (ex is InvalidDataException or InvalidOperationException)
        {
            // Corrupt data (or an encoding we cannot decode) is a protocol failure, not a handler's UNKNOWN.
            throw new RpcException(new Status(StatusCode.Internal,
                $"Failed to decompress a message with grpc-encoding '{_encoding}'."), Metadata.Empty, ex);
        }

        return Deserialize(new ReadOnlySequence<byte>(bytes));
    }

    private T Deserialize(ReadOnlySequence<byte> body)
    {
        try
        {
            return _marshaller.Deserializer(body);
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            throw new RpcException(new Status(StatusCode.Internal,
                _isServer ? "Failed to deserialize the request message." : "Failed to deserialize the response message."), Metadata.Empty, ex);
        }
    }
}
