using Google.Protobuf;
using Relay.Grpc.Tests.Infrastructure;
using Relay.Grpc.Tests.Proto;

namespace Relay.Grpc.Tests.InProcess;

/// <summary>Our client against our server, each call shape, over TCP and a Unix socket.</summary>
public sealed class CallShapeTests
{
    [Theory]
    [InlineData(Transport.Tcp)]
    [InlineData(Transport.Unix)]
    public async Task Unary_Echo_ReturnsReply(Transport transport)
    {
        await using var server = await TestServer.StartAsync(o => o.Transport = transport);
        using var channel = server.CreateChannel();
        var client = new TesterClient(channel);

        using var call = client.Unary(new TestRequest { Text = "hello", Payload = ByteString.CopyFromUtf8("abc") });
        var reply = await call.ResponseAsync.Bounded();

        reply.Text.Should().Be("hello");
        reply.Payload.ToStringUtf8().Should().Be("abc");
        call.GetStatus().StatusCode.Should().Be(StatusCode.OK);
    }

    [Theory]
    [InlineData(Transport.Tcp)]
    [InlineData(Transport.Unix)]
    public async Task Unary_EmptyMessages_RoundTrip(Transport transport)
    {
        await using var server = await TestServer.StartAsync(o => o.Transport = transport);
        using var channel = server.CreateChannel();

        var reply = await new TesterClient(channel).Unary(new TestRequest()).ResponseAsync.Bounded();

        reply.Should().Be(new TestReply());
    }

    [Theory]
    [InlineData(Transport.Tcp)]
    [InlineData(Transport.Unix)]
    public async Task Unary_MessagesLargerThanFrameAndWindow_RoundTrip(Transport transport)
    {
        await using var server = await TestServer.StartAsync(o => o.Transport = transport);
        using var channel = server.CreateChannel();
        var payload = new byte[1_500_000];
        Random.Shared.NextBytes(payload);

        var reply = await new TesterClient(channel).Unary(new TestRequest { Payload = ByteString.CopyFrom(payload) }).ResponseAsync.Bounded();

        reply.Payload.ToByteArray().Should().Equal(payload);
    }

    [Theory]
    [InlineData(Transport.Tcp)]
    [InlineData(Transport.Unix)]
    public async Task ServerStreaming_CountReplies_ReceivesAllInOrderThenOk(Transport transport)
    {
        await using var server = await TestServer.StartAsync(o => o.Transport = transport);
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).ServerStream(new TestRequest { Text = "s", Count = 5 });
        var indexes = new List<int>();
        while (await call.ResponseStream.MoveNext().Bounded())
        {
            indexes.Add(call.ResponseStream.Current.Index);
        }

        indexes.Should().Equal(0, 1, 2, 3, 4);
        call.GetStatus().StatusCode.Should().Be(StatusCode.OK);
    }

    [Theory]
    [InlineData(Transport.Tcp)]
    [InlineData(Transport.Unix)]
    public async Task ServerStreaming_NoReplies_EndsOk(Transport transport)
    {
        await using var server = await TestServer.StartAsync(o => o.Transport = transport);
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).ServerStream(new TestRequest { Count = 0 });

        (await call.ResponseStream.MoveNext().Bounded()).Should().BeFalse();
        call.GetStatus().StatusCode.Should().Be(StatusCode.OK);
    }

    [Theory]
    [InlineData(Transport.Tcp)]
    [InlineData(Transport.Unix)]
    public async Task ClientStreaming_SeveralRequests_AggregatedReply(Transport transport)
    {
        await using var server = await TestServer.StartAsync(o => o.Transport = transport);
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).ClientStream();
        foreach (var text in new[] { "a", "b", "c" })
        {
            await call.RequestStream.WriteAsync(new TestRequest { Text = text }).Bounded();
        }

        await call.RequestStream.CompleteAsync().Bounded();
        var reply = await call.ResponseAsync.Bounded();

        reply.Text.Should().Be("a,b,c");
        reply.Index.Should().Be(3);
    }

    [Theory]
    [InlineData(Transport.Tcp)]
    [InlineData(Transport.Unix)]
    public async Task Duplex_PingPongInLockstep_EchoesEachBeforeTheNextIsSent(Transport transport)
    {
        await using var server = await TestServer.StartAsync(o => o.Transport = transport);
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).Duplex();
        for (var i = 0; i < 4; i++)
        {
            // Lockstep proves the server flushes each reply without waiting for the end of the requests.
            await call.RequestStream.WriteAsync(new TestRequest { Text = "ping" + i }).Bounded();
            (await call.ResponseStream.MoveNext().Bounded()).Should().BeTrue();
            call.ResponseStream.Current.Text.Should().Be("ping" + i);
        }

        await call.RequestStream.CompleteAsync().Bounded();
        (await call.ResponseStream.MoveNext().Bounded()).Should().BeFalse();
        call.GetStatus().StatusCode.Should().Be(StatusCode.OK);
    }

    [Theory]
    [InlineData(Transport.Tcp)]
    [InlineData(Transport.Unix)]
    public async Task Duplex_CompletedAtOnce_EndsOkWithoutReplies(Transport transport)
    {
        await using var server = await TestServer.StartAsync(o => o.Transport = transport);
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).Duplex();
        await call.RequestStream.CompleteAsync().Bounded();

        (await call.ResponseStream.MoveNext().Bounded()).Should().BeFalse();
        call.GetStatus().StatusCode.Should().Be(StatusCode.OK);
    }

    [Fact]
    public async Task ServerCallContext_TcpCall_ReportsMethodHostPeerAndNoDeadline()
    {
        var seen = Waits.NewSignal<(string Method, string Host, string Peer, DateTime Deadline)>();
        await using var server = await TestServer.StartAsync(o => o.Handlers.Unary = (request, context) =>
        {
            seen.TrySetResult((context.Method, context.Host, context.Peer, context.Deadline));
            return Task.FromResult(new TestReply());
        });
        using var channel = server.CreateChannel();

        await new TesterClient(channel).Unary(new TestRequest()).ResponseAsync.Bounded();
        var (method, host, peer, deadline) = await seen.Task.Bounded();

        method.Should().Be("/relay.grpctest.v1.Tester/Unary");
        host.Should().Be(server.BaseUri!.Authority);
        peer.Should().StartWith("ipv4:127.0.0.1:");
        deadline.Should().Be(DateTime.MaxValue);
    }
}
