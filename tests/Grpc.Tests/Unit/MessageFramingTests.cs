using System.Buffers;
using System.IO.Compression;
using System.IO.Pipelines;
using Google.Protobuf;
using Relay.Grpc.Internal;
using Relay.Grpc.Tests.Infrastructure;
using Relay.Grpc.Tests.Proto;

namespace Relay.Grpc.Tests.Unit;

public sealed class MessageFramingTests
{
    private static readonly Marshaller<TestRequest> s_marshaller = Marshallers.Protobuf(TestRequest.Parser);

    private static MessageReader<TestRequest> Reader(Pipe pipe, int? maxReceive = 4 * 1024 * 1024, string? encoding = null, bool isServer = true) =>
        new(pipe.Reader, s_marshaller, maxReceive, encoding, isServer);

    private static byte[] Framed(TestRequest message, string? encoding = null)
    {
        var buffer = new ArrayBufferWriter<byte>();
        MessageFraming.WriteMessage(buffer, message, s_marshaller, null, encoding);
        return buffer.WrittenSpan.ToArray();
    }

    private static async Task WriteAsync(Pipe pipe, byte[] bytes, bool complete = false)
    {
        await pipe.Writer.WriteAsync(bytes);
        if (complete)
        {
            await pipe.Writer.CompleteAsync();
        }
    }

    private static async Task<RpcException> ReadFailsAsync(MessageReader<TestRequest> reader)
    {
        var read = async () => await reader.ReadAsync(CancellationToken.None).AsTask().Bounded();
        return (await read.Should().ThrowAsync<RpcException>()).Which;
    }

    [Fact]
    public void WriteMessage_EmptyMessage_IsFiveZeroBytes()
    {
        Framed(new TestRequest()).Should().Equal(0, 0, 0, 0, 0);
    }

    [Fact]
    public void WriteMessage_Message_BigEndianLengthPrefix()
    {
        var message = new TestRequest { Payload = ByteString.CopyFrom(new byte[300]) };

        var framed = Framed(message);

        framed[..5].Should().Equal(0, 0, 0, 0x01, 0x2F); // 303 = tag, 2-byte varint length, 300 bytes
        framed.Length.Should().Be(5 + 303);
    }

    [Fact]
    public void WriteMessage_OverSendLimit_ResourceExhausted()
    {
        var write = () => MessageFraming.WriteMessage(new ArrayBufferWriter<byte>(), new TestRequest { Text = new string('x', 100) }, s_marshaller, 50, null);

        write.Should().Throw<RpcException>().Which.StatusCode.Should().Be(StatusCode.ResourceExhausted);
    }

    [Fact]
    public async Task ReadAsync_TwoFramesSplitAtEveryByteBoundary_BothReassembled()
    {
        var first = new TestRequest { Text = "first", Count = 1 };
        var second = new TestRequest { Payload = ByteString.CopyFrom(Enumerable.Range(0, 40).Select(i => (byte)i).ToArray()) };
        var bytes = Framed(first).Concat(Framed(second)).ToArray();

        for (var split = 0; split <= bytes.Length; split++)
        {
            var pipe = new Pipe();
            var reader = Reader(pipe);
            var readTask = reader.ReadAsync(CancellationToken.None).AsTask();
            await WriteAsync(pipe, bytes[..split]);
            await WriteAsync(pipe, bytes[split..], complete: true);

            var (has1, m1) = await readTask.Bounded();
            var (has2, m2) = await reader.ReadAsync(CancellationToken.None).AsTask().Bounded();
            var (has3, _) = await reader.ReadAsync(CancellationToken.None).AsTask().Bounded();

            (has1, has2, has3).Should().Be((true, true, false), because: $"split at {split}");
            m1.Should().Be(first);
            m2.Should().Be(second);
        }
    }

    [Fact]
    public async Task ReadAsync_OneByteAtATime_Reassembled()
    {
        var message = new TestRequest { Text = "dribble" };
        var pipe = new Pipe();
        var reader = Reader(pipe);
        var readTask = reader.ReadAsync(CancellationToken.None).AsTask();

        foreach (var b in Framed(message))
        {
            readTask.IsCompleted.Should().BeFalse();
            await WriteAsync(pipe, [b]);
        }

        (await readTask.Bounded()).Message.Should().Be(message);
    }

    [Fact]
    public async Task ReadAsync_SeveralMessagesInOneSegment_ReadsEachThenEnd()
    {
        var messages = Enumerable.Range(0, 5).Select(i => new TestRequest { Count = i, Text = new string('m', i) }).ToList();
        var pipe = new Pipe();
        await WriteAsync(pipe, messages.SelectMany(m => Framed(m)).ToArray(), complete: true);
        var reader = Reader(pipe);

        var read = new List<TestRequest>();
        while (await reader.ReadAsync(CancellationToken.None).AsTask().Bounded() is (true, var message))
        {
            read.Add(message);
        }

        read.Should().Equal(messages);
    }

    [Fact]
    public async Task ReadAsync_EmptyFrame_IsEmptyMessage()
    {
        var pipe = new Pipe();
        await WriteAsync(pipe, [0, 0, 0, 0, 0], complete: true);

        var (has, message) = await Reader(pipe).ReadAsync(CancellationToken.None).AsTask().Bounded();

        has.Should().BeTrue();
        message.Should().Be(new TestRequest());
    }

    [Fact]
    public async Task ReadAsync_OversizedLengthPrefix_ResourceExhaustedBeforeTheBodyArrives()
    {
        var pipe = new Pipe();
        // Only the prefix is written and the stream stays open: the limit must be checked on the prefix alone.
        await WriteAsync(pipe, [0, 0, 0x10, 0, 0]);

        var error = await ReadFailsAsync(Reader(pipe, maxReceive: 1000));

        error.StatusCode.Should().Be(StatusCode.ResourceExhausted);
        error.Status.Detail.Should().Contain("Received message exceeds the maximum configured message size");
    }

    [Fact]
    public async Task ReadAsync_LengthAboveInt32_RejectedEvenWithoutLimit()
    {
        var pipe = new Pipe();
        await WriteAsync(pipe, [0, 0xFF, 0xFF, 0xFF, 0xFF]);

        var error = await ReadFailsAsync(Reader(pipe, maxReceive: null));

        error.StatusCode.Should().BeOneOf(StatusCode.ResourceExhausted, StatusCode.Internal);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(0x80)]
    public async Task ReadAsync_InvalidCompressedFlag_Internal(byte flag)
    {
        var pipe = new Pipe();
        await WriteAsync(pipe, RawGrpc.Frame([8, 1], flag), complete: true);

        var error = await ReadFailsAsync(Reader(pipe));

        error.StatusCode.Should().Be(StatusCode.Internal);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(7)]
    public async Task ReadAsync_TruncatedFrame_InternalIncompleteMessage(int length)
    {
        var bytes = Framed(new TestRequest { Text = "truncated" })[..length];
        var pipe = new Pipe();
        await WriteAsync(pipe, bytes, complete: true);

        var error = await ReadFailsAsync(Reader(pipe));

        error.StatusCode.Should().Be(StatusCode.Internal);
        error.Status.Detail.Should().Be("Incomplete message.");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("identity")]
    public async Task ReadAsync_CompressedFlagWithoutEncoding_Internal(string? encoding)
    {
        var pipe = new Pipe();
        await WriteAsync(pipe, Framed(new TestRequest { Text = "z" }, "gzip"), complete: true);

        var error = await ReadFailsAsync(Reader(pipe, encoding: encoding));

        error.StatusCode.Should().Be(StatusCode.Internal);
    }

    [Theory]
    [InlineData("gzip", new byte[] { 0x1F, 0x8B })]
    [InlineData("deflate", new byte[] { 0x78 })] // zlib (RFC 1950), not raw deflate
    public async Task WriteThenRead_Compressed_RoundTripsWithTheRightFormat(string encoding, byte[] magic)
    {
        var message = new TestRequest { Text = new string('c', 1000) };
        var framed = Framed(message, encoding);
        var pipe = new Pipe();
        await WriteAsync(pipe, framed, complete: true);

        var (has, read) = await Reader(pipe, encoding: encoding).ReadAsync(CancellationToken.None).AsTask().Bounded();

        framed[0].Should().Be(1);
        framed[5..].Should().StartWith(magic);
        framed.Length.Should().BeLessThan(200);
        has.Should().BeTrue();
        read.Should().Be(message);
    }

    [Fact]
    public async Task ReadAsync_UncompressedFrameOnCompressedStream_Accepted()
    {
        // grpc-encoding only says what flagged messages use; each message may still go uncompressed.
        var message = new TestRequest { Text = "plain" };
        var pipe = new Pipe();
        await WriteAsync(pipe, Framed(message), complete: true);

        (await Reader(pipe, encoding: "gzip").ReadAsync(CancellationToken.None).AsTask().Bounded()).Message.Should().Be(message);
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("deflate")]
    public async Task ReadAsync_CorruptCompressedBody_Internal(string encoding)
    {
        var pipe = new Pipe();
        await WriteAsync(pipe, RawGrpc.Frame([1, 2, 3, 4, 5, 6, 7, 8], flag: 1), complete: true);

        var error = await ReadFailsAsync(Reader(pipe, encoding: encoding));

        error.StatusCode.Should().Be(StatusCode.Internal);
    }

    [Fact]
    public async Task ReadAsync_DecompressesBeyondTheLimit_ResourceExhausted()
    {
        // 1 MB of zeros compresses to about 1 KB: the limit must apply to the decompressed size too.
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(new TestRequest { Payload = ByteString.CopyFrom(new byte[1_000_000]) }.ToByteArray());
        }

        var pipe = new Pipe();
        await WriteAsync(pipe, RawGrpc.Frame(compressed.ToArray(), flag: 1), complete: true);

        var error = await ReadFailsAsync(Reader(pipe, maxReceive: 100_000, encoding: "gzip"));

        error.StatusCode.Should().Be(StatusCode.ResourceExhausted);
    }

    [Fact]
    public async Task ReadAsync_NotProtobuf_Internal()
    {
        var pipe = new Pipe();
        await WriteAsync(pipe, RawGrpc.Frame([0xFF, 0xFF, 0xFF]), complete: true);

        var error = await ReadFailsAsync(Reader(pipe));

        error.StatusCode.Should().Be(StatusCode.Internal);
    }

    [Theory]
    [InlineData(true, StatusCode.Unimplemented)]
    [InlineData(false, StatusCode.Internal)]
    public async Task ReadSingleAsync_TwoMessages_Error(bool isServer, StatusCode expected)
    {
        var pipe = new Pipe();
        await WriteAsync(pipe, Framed(new TestRequest { Text = "1" }).Concat(Framed(new TestRequest { Text = "2" })).ToArray(), complete: true);

        var read = async () => await Reader(pipe, isServer: isServer).ReadSingleAsync(CancellationToken.None).AsTask().Bounded();

        (await read.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(expected);
    }

    [Fact]
    public async Task ReadSingleAsync_NoMessage_Error()
    {
        var pipe = new Pipe();
        await pipe.Writer.CompleteAsync();

        var read = async () => await Reader(pipe).ReadSingleAsync(CancellationToken.None).AsTask().Bounded();

        (await read.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().NotBe(StatusCode.OK);
    }

    [Fact]
    public async Task ReadSingleAsync_OneMessageThenEnd_ReturnsIt()
    {
        var pipe = new Pipe();
        await WriteAsync(pipe, Framed(new TestRequest { Text = "only" }), complete: true);

        (await Reader(pipe).ReadSingleAsync(CancellationToken.None).AsTask().Bounded()).Text.Should().Be("only");
    }

    [Fact]
    public async Task ReadAsync_Cancelled_ThrowsOperationCanceled()
    {
        var pipe = new Pipe();
        using var cts = new CancellationTokenSource();
        var read = Reader(pipe).ReadAsync(cts.Token).AsTask();

        await cts.CancelAsync();

        await read.Invoking(t => t.Bounded()).Should().ThrowAsync<OperationCanceledException>();
    }
}
