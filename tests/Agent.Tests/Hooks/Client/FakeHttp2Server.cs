using System.Buffers.Binary;
using System.Net.Sockets;
using Relay.Agent.Hooks.Client;

namespace Relay.Agent.Tests.Hooks.Client;

/// <summary>
/// A hand-driven HTTP/2 server on a Unix socket for one connection: the test reads the client's frames and writes
/// exactly the frames it wants, including broken ones a real server would never send.
/// </summary>
internal sealed class FakeHttp2Server : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationToken _cancellationToken;
    private Socket? _connection;
    private NetworkStream? _stream;

    private FakeHttp2Server(Socket listener, string path, CancellationToken cancellationToken)
    {
        _listener = listener;
        Path = path;
        _cancellationToken = cancellationToken;
    }

    public string Path { get; }

    public static FakeHttp2Server Listen(string path, CancellationToken cancellationToken)
    {
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(8);
        return new FakeHttp2Server(listener, path, cancellationToken);
    }

    /// <summary>Accepts the client and reads its preface, SETTINGS, connection WINDOW_UPDATE and request HEADERS.</summary>
    public async Task<IReadOnlyList<KeyValuePair<string, string>>> AcceptAsync()
    {
        _connection = await _listener.AcceptAsync(_cancellationToken);
        _stream = new NetworkStream(_connection);
        var preface = new byte[24];
        await _stream.ReadExactlyAsync(preface, _cancellationToken);
        preface.Should().Equal(Http2.Preface.ToArray());
        while (true)
        {
            var frame = await ReadFrameAsync();
            if (frame.Type == Http2.Headers)
            {
                (frame.Flags & Http2.FlagEndHeaders).Should().NotBe(0, "the client's headers fit one frame");
                return new HpackDecoder(64 * 1024).Decode(frame.Payload).ToArray();
            }
        }
    }

    /// <summary>Reads DATA frames until END_STREAM; returns the request body (gRPC prefix included).</summary>
    public async Task<byte[]> ReadBodyAsync()
    {
        var body = new List<byte>();
        while (true)
        {
            var frame = await ReadFrameAsync();
            if (frame.Type != Http2.Data)
            {
                continue;
            }

            body.AddRange(frame.Payload);
            if ((frame.Flags & Http2.FlagEndStream) != 0)
            {
                return body.ToArray();
            }
        }
    }

    public async Task<Frame> ReadFrameAsync()
    {
        var header = new byte[Http2.FrameHeaderLength];
        await Stream.ReadExactlyAsync(header, _cancellationToken);
        var length = (header[0] << 16) | (header[1] << 8) | header[2];
        var payload = new byte[length];
        await Stream.ReadExactlyAsync(payload, _cancellationToken);
        return new Frame(header[3], header[4], BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(5)) & int.MaxValue, payload);
    }

    /// <summary>Reads until the client closes the connection; the frames it sent on the way.</summary>
    public async Task<List<Frame>> ReadUntilClosedAsync()
    {
        var frames = new List<Frame>();
        while (true)
        {
            try
            {
                frames.Add(await ReadFrameAsync());
            }
            catch (EndOfStreamException)
            {
                return frames;
            }
            catch (IOException)
            {
                return frames;
            }
        }
    }

    public Task WriteFrameAsync(byte type, byte flags, int stream, byte[] payload) => WriteRawAsync(FrameBytes(type, flags, stream, payload));

    public async Task WriteRawAsync(byte[] bytes)
    {
        await Stream.WriteAsync(bytes, _cancellationToken);
        await Stream.FlushAsync(_cancellationToken);
    }

    public Task SendHeadersAsync(bool endStream, params (string Name, string Value)[] fields) =>
        WriteFrameAsync(Http2.Headers, (byte)(Http2.FlagEndHeaders | (endStream ? Http2.FlagEndStream : 0)), 1, Block(fields));

    public Task SendResponseHeadersAsync() => SendHeadersAsync(false, (":status", "200"), ("content-type", "application/grpc"));

    public Task SendMessageAsync(byte[] message, bool endStream = false) =>
        WriteFrameAsync(Http2.Data, endStream ? Http2.FlagEndStream : (byte)0, 1, Framed(message));

    public Task SendTrailersAsync(int status, string message = "") =>
        message.Length == 0
            ? SendHeadersAsync(true, ("grpc-status", status.ToString(System.Globalization.CultureInfo.InvariantCulture)))
            : SendHeadersAsync(true, ("grpc-status", status.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("grpc-message", message));

    /// <summary>A complete OK answer: headers, one message, trailers.</summary>
    public async Task AnswerAsync(byte[] message)
    {
        await SendResponseHeadersAsync();
        await SendMessageAsync(message);
        await SendTrailersAsync(0);
    }

    public void CloseConnection()
    {
        _connection?.Shutdown(SocketShutdown.Both);
        _connection?.Dispose();
    }

    public static byte[] FrameBytes(byte type, byte flags, int stream, byte[] payload)
    {
        var frame = new ByteBuffer();
        Http2.WriteFrameHeader(frame, payload.Length, type, flags, stream);
        frame.Append(payload);
        return frame.Span.ToArray();
    }

    public static byte[] Block(params (string Name, string Value)[] fields)
    {
        var block = new ByteBuffer();
        foreach (var (name, value) in fields)
        {
            HpackEncoder.WriteLiteral(block, name, value);
        }

        return block.Span.ToArray();
    }

    /// <summary><paramref name="message"/> with gRPC's 5-byte prefix (not compressed).</summary>
    public static byte[] Framed(byte[] message)
    {
        var framed = new byte[5 + message.Length];
        BinaryPrimitives.WriteInt32BigEndian(framed.AsSpan(1), message.Length);
        message.CopyTo(framed, 5);
        return framed;
    }

    public static byte[] UInt32(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }

    public async ValueTask DisposeAsync()
    {
        if (_stream is not null)
        {
            await _stream.DisposeAsync();
        }

        _connection?.Dispose();
        _listener.Dispose();
    }

    private NetworkStream Stream => _stream ?? throw new InvalidOperationException("No connection accepted yet.");

    internal sealed record Frame(byte Type, byte Flags, int Stream, byte[] Payload);
}
