using Google.Protobuf;
using Relay.Grpc.Tests.Infrastructure;
using Relay.Grpc.Tests.Proto;

namespace Relay.Grpc.Tests.InProcess;

public sealed class SizeLimitAndCompressionTests
{
    private static TestRequest Sized(int bytes) => new() { Payload = ByteString.CopyFrom(new byte[bytes]) };

    [Fact]
    public async Task Unary_RequestOverServerReceiveLimit_ResourceExhaustedAndHandlerNotRun()
    {
        var handlerRuns = 0;
        await using var server = await TestServer.StartAsync(o =>
        {
            o.ConfigureGrpc = g => g.MaxReceiveMessageSize = 1000;
            o.Handlers.Unary = (request, _) =>
            {
                Interlocked.Increment(ref handlerRuns);
                return Task.FromResult(new TestReply { Payload = request.Payload });
            };
        });
        using var channel = server.CreateChannel();

        var error = (await new TesterClient(channel).Unary(Sized(2000)).ResponseAsync.Awaiting(t => t.Bounded()).Should().ThrowAsync<RpcException>()).Which;

        error.StatusCode.Should().Be(StatusCode.ResourceExhausted);
        handlerRuns.Should().Be(0);
        (await new TesterClient(channel).Unary(Sized(900)).ResponseAsync.Bounded()).Payload.Length.Should().Be(900);
    }

    [Fact]
    public async Task ClientStreaming_RequestOverServerReceiveLimit_ResourceExhausted()
    {
        await using var server = await TestServer.StartAsync(o => o.ConfigureGrpc = g => g.MaxReceiveMessageSize = 1000);
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).ClientStream();
        await call.RequestStream.WriteAsync(Sized(10)).Bounded();
        await call.RequestStream.WriteAsync(Sized(5000)).Bounded();
        await call.RequestStream.CompleteAsync().Bounded();

        (await call.ResponseAsync.Awaiting(t => t.Bounded()).Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.ResourceExhausted);
    }

    [Fact]
    public async Task Unary_ResponseOverClientReceiveLimit_ResourceExhausted()
    {
        await using var server = await TestServer.StartAsync();
        using var channel = server.CreateChannel(new GrpcChannelOptions { MaxReceiveMessageSize = 1000 });

        var error = (await new TesterClient(channel).Unary(Sized(2000)).ResponseAsync.Awaiting(t => t.Bounded()).Should().ThrowAsync<RpcException>()).Which;

        error.StatusCode.Should().Be(StatusCode.ResourceExhausted);
        error.Status.Detail.Should().Contain("Received message exceeds the maximum configured message size");
    }

    [Fact]
    public async Task Unary_RequestOverClientSendLimit_ResourceExhaustedWithoutSending()
    {
        var handlerRuns = 0;
        await using var server = await TestServer.StartAsync(o => o.Handlers.Unary = (_, _) =>
        {
            Interlocked.Increment(ref handlerRuns);
            return Task.FromResult(new TestReply());
        });
        using var channel = server.CreateChannel(new GrpcChannelOptions { MaxSendMessageSize = 1000 });

        var error = (await new TesterClient(channel).Unary(Sized(2000)).ResponseAsync.Awaiting(t => t.Bounded()).Should().ThrowAsync<RpcException>()).Which;

        error.StatusCode.Should().Be(StatusCode.ResourceExhausted);
        error.Status.Detail.Should().Contain("Sending message exceeds the maximum configured message size");
        server.AcceptedConnections.Should().Be(0);
        handlerRuns.Should().Be(0);
    }

    [Fact]
    public async Task Duplex_StreamedRequestOverClientSendLimit_WriteThrowsResourceExhausted()
    {
        await using var server = await TestServer.StartAsync();
        using var channel = server.CreateChannel(new GrpcChannelOptions { MaxSendMessageSize = 1000 });

        using var call = new TesterClient(channel).Duplex();

        (await call.RequestStream.Awaiting(s => s.WriteAsync(Sized(2000)).Bounded()).Should().ThrowAsync<RpcException>())
            .Which.StatusCode.Should().Be(StatusCode.ResourceExhausted);
    }

    [Fact]
    public async Task Unary_ResponseOverServerSendLimit_ResourceExhausted()
    {
        await using var server = await TestServer.StartAsync(o => o.ConfigureGrpc = g => g.MaxSendMessageSize = 1000);
        using var channel = server.CreateChannel();

        var error = (await new TesterClient(channel).Unary(Sized(2000)).ResponseAsync.Awaiting(t => t.Bounded()).Should().ThrowAsync<RpcException>()).Which;

        error.StatusCode.Should().Be(StatusCode.ResourceExhausted);
        error.Status.Detail.Should().Contain("Sending message exceeds the maximum configured message size");
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("deflate")]
    public async Task Unary_RequestCompression_ServerReceivesCompressedAndDecodes(string algorithm)
    {
        var seen = Waits.NewSignal<(string Encoding, long? Length)>();
        await using var server = await TestServer.StartAsync(o => o.Handlers.Unary = (request, context) =>
        {
            var http = context.GetHttpContext().Request;
            seen.TrySetResult((http.Headers["grpc-encoding"].ToString(), http.ContentLength));
            return Task.FromResult(new TestReply { Payload = request.Payload });
        });
        using var channel = server.CreateChannel(new GrpcChannelOptions { CompressionAlgorithm = algorithm });

        var reply = await new TesterClient(channel).Unary(Sized(100_000)).ResponseAsync.Bounded();
        var (encoding, length) = await seen.Task.Bounded();

        reply.Payload.Length.Should().Be(100_000);
        encoding.Should().Be(algorithm);
        length.Should().BeLessThan(5_000, because: "100 KB of zeros compresses to almost nothing");
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("deflate")]
    public async Task Duplex_RequestCompression_EveryStreamedMessageDecoded(string algorithm)
    {
        await using var server = await TestServer.StartAsync();
        using var channel = server.CreateChannel(new GrpcChannelOptions { CompressionAlgorithm = algorithm });

        using var call = new TesterClient(channel).Duplex();
        for (var i = 0; i < 3; i++)
        {
            await call.RequestStream.WriteAsync(new TestRequest { Text = "m" + i, Payload = ByteString.CopyFrom(new byte[10_000]) }).Bounded();
            (await call.ResponseStream.MoveNext().Bounded()).Should().BeTrue();
            call.ResponseStream.Current.Text.Should().Be("m" + i);
        }

        await call.RequestStream.CompleteAsync().Bounded();
        (await call.ResponseStream.MoveNext().Bounded()).Should().BeFalse();
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("deflate")]
    public async Task Unary_ResponseCompression_OurClientDecodes(string algorithm)
    {
        await using var server = await TestServer.StartAsync(o => o.ConfigureGrpc = g => g.ResponseCompressionAlgorithm = algorithm);
        using var channel = server.CreateChannel();

        var reply = await new TesterClient(channel).Unary(new TestRequest { Text = new string('r', 5000) }).ResponseAsync.Bounded();

        reply.Text.Should().Be(new string('r', 5000));
    }

    [Theory]
    [InlineData("gzip", "identity,gzip,deflate", true)]
    [InlineData("deflate", "identity, deflate", true)]
    [InlineData("gzip", "identity", false)]
    [InlineData("gzip", null, false)]
    public async Task Unary_ResponseCompression_OnlyWhenTheClientAcceptsIt(string algorithm, string? acceptEncoding, bool compressed)
    {
        await using var server = await TestServer.StartAsync(o => o.ConfigureGrpc = g => g.ResponseCompressionAlgorithm = algorithm);
        using var http = RawGrpc.CreateClient(server.BaseUri!);
        (string, string)[] headers = acceptEncoding is null ? [] : [("grpc-accept-encoding", acceptEncoding)];

        using var response = await http.SendAsync(RawGrpc.Post(TesterMethods.Unary.FullName, RawGrpc.Frame(new TestRequest { Text = new string('r', 5000) }), "application/grpc", headers)).Bounded();
        var frames = await RawGrpc.ReadFramesAsync(response);

        frames.Should().ContainSingle();
        frames[0].Flag.Should().Be(compressed ? (byte)1 : (byte)0);
        response.Headers.TryGetValues("grpc-encoding", out var encoding).Should().Be(compressed);
        if (compressed)
        {
            encoding.Should().Equal(algorithm);
            frames[0].Payload.Length.Should().BeLessThan(1000);
        }

        RawGrpc.GetStatusField(response, "grpc-status").Should().Be("0");
    }

    [Fact]
    public async Task Unary_UnsupportedRequestEncoding_UnimplementedWithAcceptEncoding()
    {
        var handlerRuns = 0;
        await using var server = await TestServer.StartAsync(o => o.Handlers.Unary = (_, _) =>
        {
            Interlocked.Increment(ref handlerRuns);
            return Task.FromResult(new TestReply());
        });
        using var http = RawGrpc.CreateClient(server.BaseUri!);

        using var response = await http.SendAsync(RawGrpc.Post(TesterMethods.Unary.FullName, RawGrpc.Frame([1, 2, 3], flag: 1), "application/grpc",
            ("grpc-encoding", "snappy"))).Bounded();
        await response.Content.ReadAsByteArrayAsync().Bounded();

        RawGrpc.GetStatusField(response, "grpc-status").Should().Be("12");
        var accepted = response.Headers.GetValues("grpc-accept-encoding").Single().Split(',', StringSplitOptions.TrimEntries);
        accepted.Should().Contain(["identity", "gzip", "deflate"]).And.NotContain("snappy");
        handlerRuns.Should().Be(0);
    }

    [Fact]
    public async Task Unary_CompressedFlagWithoutEncodingHeader_Internal()
    {
        await using var server = await TestServer.StartAsync();
        using var http = RawGrpc.CreateClient(server.BaseUri!);

        using var response = await http.SendAsync(RawGrpc.Post(TesterMethods.Unary.FullName, RawGrpc.Frame([8, 1], flag: 1))).Bounded();
        await response.Content.ReadAsByteArrayAsync().Bounded();

        RawGrpc.GetStatusField(response, "grpc-status").Should().Be("13");
    }

    [Fact]
    public async Task Unary_CorruptCompressedRequest_Internal()
    {
        await using var server = await TestServer.StartAsync();
        using var http = RawGrpc.CreateClient(server.BaseUri!);

        using var response = await http.SendAsync(RawGrpc.Post(TesterMethods.Unary.FullName, RawGrpc.Frame([1, 2, 3, 4, 5, 6], flag: 1), "application/grpc",
            ("grpc-encoding", "gzip"))).Bounded();
        await response.Content.ReadAsByteArrayAsync().Bounded();

        RawGrpc.GetStatusField(response, "grpc-status").Should().Be("13");
    }
}
