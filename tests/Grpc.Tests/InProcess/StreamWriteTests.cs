using Google.Protobuf;
using Relay.Grpc.Tests.Infrastructure;
using Relay.Grpc.Tests.Proto;

namespace Relay.Grpc.Tests.InProcess;

public sealed class StreamWriteTests
{
    [Fact]
    public async Task ServerStreaming_BufferHintOnEveryWrite_AllDeliveredAtCompletion()
    {
        await using var server = await TestServer.StartAsync(o => o.Handlers.ServerStream = async (request, responses, _) =>
        {
            responses.WriteOptions = WriteOptions.Buffered;
            for (var i = 0; i < request.Count; i++)
            {
                await responses.WriteAsync(new TestReply { Index = i });
            }
        });
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).ServerStream(new TestRequest { Count = 100 });
        var indexes = new List<int>();
        while (await call.ResponseStream.MoveNext().Bounded())
        {
            indexes.Add(call.ResponseStream.Current.Index);
        }

        indexes.Should().Equal(Enumerable.Range(0, 100));
    }

    [Fact]
    public async Task ServerStreaming_BufferedWritesThenAFlushingWrite_ArriveBeforeTheCallEnds()
    {
        var release = Waits.NewSignal();
        await using var server = await TestServer.StartAsync(o => o.Handlers.ServerStream = async (_, responses, context) =>
        {
            responses.WriteOptions = WriteOptions.Buffered;
            await responses.WriteAsync(new TestReply { Index = 0 });
            await responses.WriteAsync(new TestReply { Index = 1 });
            responses.WriteOptions = null;
            await responses.WriteAsync(new TestReply { Index = 2 });
            await release.Task.WaitAsync(context.CancellationToken);
        });
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).ServerStream(new TestRequest());
        for (var i = 0; i < 3; i++)
        {
            // The handler is still running: only the unhinted write's flush can have delivered these.
            (await call.ResponseStream.MoveNext().Bounded()).Should().BeTrue();
            call.ResponseStream.Current.Index.Should().Be(i);
        }

        release.SetResult();
        (await call.ResponseStream.MoveNext().Bounded()).Should().BeFalse();
    }

    [Fact]
    public async Task ClientStreaming_BufferHintOnEveryWrite_AllDeliveredOnComplete()
    {
        await using var server = await TestServer.StartAsync();
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).ClientStream(new CallOptions(WriteOptions: WriteOptions.Buffered));
        for (var i = 0; i < 50; i++)
        {
            await call.RequestStream.WriteAsync(new TestRequest { Text = i.ToString(System.Globalization.CultureInfo.InvariantCulture) }).Bounded();
        }

        await call.RequestStream.CompleteAsync().Bounded();
        var reply = await call.ResponseAsync.Bounded();

        reply.Index.Should().Be(50);
        reply.Text.Should().EndWith(",48,49");
    }

    [Fact]
    public async Task ServerStreaming_ConcurrentWrites_SecondThrowsInvalidOperation()
    {
        var outcome = Waits.NewSignal<Exception?>();
        await using var server = await TestServer.StartAsync(o => o.Handlers.ServerStream = async (_, responses, _) =>
        {
            // 3 MB cannot pass HTTP/2 flow control until the client reads, so the first write stays pending.
            var first = responses.WriteAsync(new TestReply { Payload = ByteString.CopyFrom(new byte[3_000_000]) });
            try
            {
                await responses.WriteAsync(new TestReply { Index = 2 });
                outcome.TrySetResult(null);
            }
            catch (Exception ex)
            {
                outcome.TrySetResult(ex);
            }

            await first;
        });
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).ServerStream(new TestRequest());
        var error = await outcome.Task.Bounded();

        error.Should().BeOfType<InvalidOperationException>();
        (await call.ResponseStream.MoveNext().Bounded()).Should().BeTrue();
        call.ResponseStream.Current.Payload.Length.Should().Be(3_000_000);
    }

    [Fact]
    public async Task Duplex_ConcurrentClientWrites_SecondThrowsInvalidOperation()
    {
        var readFirst = Waits.NewSignal();
        await using var server = await TestServer.StartAsync(o => o.Handlers.Duplex = async (requests, _, context) =>
        {
            // Does not read until told to, so the client's big write waits on flow control.
            await readFirst.Task.WaitAsync(context.CancellationToken);
            while (await requests.MoveNext())
            {
            }
        });
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).Duplex();
        var first = call.RequestStream.WriteAsync(new TestRequest { Payload = ByteString.CopyFrom(new byte[3_000_000]) });

        await call.RequestStream.Awaiting(s => s.WriteAsync(new TestRequest())).Should().ThrowAsync<InvalidOperationException>();
        readFirst.SetResult();
        await first.Bounded();
        await call.RequestStream.CompleteAsync().Bounded();
        (await call.ResponseStream.MoveNext().Bounded()).Should().BeFalse();
    }

    [Fact]
    public async Task Duplex_CompleteWhileAWriteIsPending_ThrowsInvalidOperationAndTheWriteStillArrives()
    {
        var readFirst = Waits.NewSignal();
        await using var server = await TestServer.StartAsync(o => o.Handlers.Duplex = async (requests, responses, context) =>
        {
            await readFirst.Task.WaitAsync(context.CancellationToken);
            while (await requests.MoveNext())
            {
                await responses.WriteAsync(new TestReply { Index = requests.Current.Payload.Length });
            }
        });
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).Duplex();
        var first = call.RequestStream.WriteAsync(new TestRequest { Payload = ByteString.CopyFrom(new byte[3_000_000]) });

        await call.RequestStream.Awaiting(s => s.CompleteAsync()).Should().ThrowAsync<InvalidOperationException>();
        readFirst.SetResult();
        await first.Bounded();
        await call.RequestStream.CompleteAsync().Bounded();
        (await call.ResponseStream.MoveNext().Bounded()).Should().BeTrue();
        call.ResponseStream.Current.Index.Should().Be(3_000_000);
        (await call.ResponseStream.MoveNext().Bounded()).Should().BeFalse();
    }

    [Fact]
    public async Task ClientStream_WriteAfterComplete_ThrowsInvalidOperation()
    {
        await using var server = await TestServer.StartAsync();
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).ClientStream();
        await call.RequestStream.CompleteAsync().Bounded();

        await call.RequestStream.Awaiting(s => s.WriteAsync(new TestRequest())).Should().ThrowAsync<InvalidOperationException>();
        (await call.ResponseAsync.Bounded()).Index.Should().Be(0);
    }

    [Fact]
    public async Task ClientStreaming_ServerAnswersBeforeTheClientCompletes_WritesReportTheOutcome()
    {
        await using var server = await TestServer.StartAsync(o => o.Handlers.ClientStream = async (requests, _) =>
        {
            await requests.MoveNext();
            throw new RpcException(new Status(StatusCode.InvalidArgument, "first one was enough"));
        });
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).ClientStream();
        await call.RequestStream.WriteAsync(new TestRequest()).Bounded();
        var error = (await call.ResponseAsync.Awaiting(t => t.Bounded()).Should().ThrowAsync<RpcException>()).Which;

        error.StatusCode.Should().Be(StatusCode.InvalidArgument);
        (await call.RequestStream.Awaiting(s => s.WriteAsync(new TestRequest()).Bounded()).Should().ThrowAsync<RpcException>())
            .Which.StatusCode.Should().Be(StatusCode.InvalidArgument);
    }

    [Fact]
    public async Task ClientStreaming_MoreThanKestrelsMaxRequestBodySize_Accepted()
    {
        await using var server = await TestServer.StartAsync(o => o.Handlers.ClientStream = async (requests, context) =>
        {
            long total = 0;
            while (await requests.MoveNext(context.CancellationToken))
            {
                total += requests.Current.Payload.Length;
            }

            return new TestReply { Text = total.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        });
        using var channel = server.CreateChannel();
        var chunk = new TestRequest { Payload = ByteString.CopyFrom(new byte[1_000_000]) };

        using var call = new TesterClient(channel).ClientStream();
        // Kestrel's default MaxRequestBodySize is 30,000,000 bytes for the whole request body.
        for (var i = 0; i < 31; i++)
        {
            await call.RequestStream.WriteAsync(chunk).Bounded();
        }

        await call.RequestStream.CompleteAsync().Bounded();

        (await call.ResponseAsync.Bounded()).Text.Should().Be("31000000");
    }

    [Fact]
    public async Task Duplex_IdleLongerThanKestrelsMinDataRateGrace_StillWorks()
    {
        await using var server = await TestServer.StartAsync();
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).Duplex();
        await call.RequestStream.WriteAsync(new TestRequest { Text = "before" }).Bounded();
        (await call.ResponseStream.MoveNext().Bounded()).Should().BeTrue();

        // Real time must pass: Kestrel's MinRequestBodyDataRate (240 B/s after a 5 s grace) kills a quiet
        // request body, and the whole connection with it, unless the layer lifts it for streaming calls.
        // Nothing can signal "the grace period is over", so this waits it out with a bounded delay.
        await Task.Delay(TimeSpan.FromSeconds(6.5));

        await call.RequestStream.WriteAsync(new TestRequest { Text = "after" }).Bounded();
        (await call.ResponseStream.MoveNext().Bounded()).Should().BeTrue();
        call.ResponseStream.Current.Text.Should().Be("after");
        await call.RequestStream.CompleteAsync().Bounded();
        (await call.ResponseStream.MoveNext().Bounded()).Should().BeFalse();
    }
}
