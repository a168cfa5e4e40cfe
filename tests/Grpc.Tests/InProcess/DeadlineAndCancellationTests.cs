using System.Diagnostics;
using Relay.Grpc.Tests.Infrastructure;
using Relay.Grpc.Tests.Proto;

namespace Relay.Grpc.Tests.InProcess;

public sealed class DeadlineAndCancellationTests
{
    /// <summary>Records whether the handler's token fired, then lets the exception end the call.</summary>
    private static async Task WaitForCancellationAsync(ServerCallContext context, TaskCompletionSource cancelled)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
        }
        catch (OperationCanceledException)
        {
            cancelled.TrySetResult();
            throw;
        }
    }

    [Theory]
    [InlineData(Transport.Tcp)]
    [InlineData(Transport.Unix)]
    public async Task Unary_ServerSlowerThanDeadline_DeadlineExceededAndServerTokenFires(Transport transport)
    {
        var serverCancelled = Waits.NewSignal();
        var serverDeadline = Waits.NewSignal<DateTime>();
        await using var server = await TestServer.StartAsync(o =>
        {
            o.Transport = transport;
            o.Handlers.Unary = async (_, context) =>
            {
                serverDeadline.TrySetResult(context.Deadline);
                await WaitForCancellationAsync(context, serverCancelled);
                return new TestReply();
            };
        });
        using var channel = server.CreateChannel();
        // Long enough for the handler to be running when it expires, even on a loaded machine.
        var deadline = DateTime.UtcNow.AddMilliseconds(1500);

        var error = (await new TesterClient(channel).Unary(new TestRequest(), new CallOptions(Deadline: deadline)).ResponseAsync
            .Awaiting(t => t.Bounded()).Should().ThrowAsync<RpcException>()).Which;

        error.StatusCode.Should().Be(StatusCode.DeadlineExceeded);
        await serverCancelled.Task.Bounded();
        (await serverDeadline.Task.Bounded()).Should().BeCloseTo(deadline, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task ServerStreaming_DeadlinePassesWhileReading_DeadlineExceeded()
    {
        var serverCancelled = Waits.NewSignal();
        await using var server = await TestServer.StartAsync(o => o.Handlers.ServerStream = async (_, responses, context) =>
        {
            await responses.WriteAsync(new TestReply());
            await WaitForCancellationAsync(context, serverCancelled);
        });
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).ServerStream(new TestRequest(), new CallOptions().WithTimeout(TimeSpan.FromMilliseconds(1500)));
        var read = async () =>
        {
            while (await call.ResponseStream.MoveNext().Bounded())
            {
            }
        };
        var error = (await read.Should().ThrowAsync<RpcException>()).Which;

        error.StatusCode.Should().Be(StatusCode.DeadlineExceeded);
        call.GetStatus().StatusCode.Should().Be(StatusCode.DeadlineExceeded);
        await serverCancelled.Task.Bounded();
    }

    [Fact]
    public async Task Unary_DeadlineAlreadyPast_FailsWithoutSendingARequest()
    {
        await using var server = await TestServer.StartAsync();
        using var counting = new CountingHandler();
        using var channel = server.CreateChannel(new GrpcChannelOptions { HttpHandler = counting });

        var error = (await new TesterClient(channel).Unary(new TestRequest(), new CallOptions(Deadline: DateTime.UtcNow.AddSeconds(-1))).ResponseAsync
            .Awaiting(t => t.Bounded()).Should().ThrowAsync<RpcException>()).Which;

        error.StatusCode.Should().Be(StatusCode.DeadlineExceeded);
        counting.Requests.Should().Be(0);
        // The same channel still works, proving the handler counts real requests.
        await new TesterClient(channel).Unary(new TestRequest()).ResponseAsync.Bounded();
        counting.Requests.Should().Be(1);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("123456789S")]
    [InlineData("0S")]
    [InlineData("10s")]
    public async Task Unary_MalformedGrpcTimeout_IgnoredAsNoDeadline(string value)
    {
        var seen = Waits.NewSignal<DateTime>();
        await using var server = await TestServer.StartAsync(o => o.Handlers.Unary = (_, context) =>
        {
            seen.TrySetResult(context.Deadline);
            return Task.FromResult(new TestReply());
        });
        using var http = RawGrpc.CreateClient(server.BaseUri!);

        using var response = await http.SendAsync(RawGrpc.Post(TesterMethods.Unary.FullName, RawGrpc.Frame(new TestRequest()), "application/grpc",
            ("grpc-timeout", value))).Bounded();
        await response.Content.ReadAsByteArrayAsync().Bounded();

        RawGrpc.GetStatusField(response, "grpc-status").Should().Be("0");
        (await seen.Task.Bounded()).Should().Be(DateTime.MaxValue);
    }

    [Fact]
    public void Unary_LocalTimeDeadline_RejectedBeforeAnythingIsSent()
    {
        using var channel = GrpcChannel.ForAddress("127.0.0.1:1");

        var start = () => new TesterClient(channel).Unary(new TestRequest(), new CallOptions(Deadline: DateTime.Now.AddMinutes(1)));

        start.Should().Throw<ArgumentException>().WithMessage("*UTC*");
    }

    [Fact]
    public async Task Unary_DeadlineBeyondTheTimerRange_Succeeds()
    {
        var serverDeadline = Waits.NewSignal<DateTime>();
        await using var server = await TestServer.StartAsync(o => o.Handlers.Unary = (request, context) =>
        {
            serverDeadline.TrySetResult(context.Deadline);
            return Task.FromResult(new TestReply { Text = request.Text });
        });
        using var channel = server.CreateChannel();
        // 100 days: more than a .NET timer can be armed for (~49.7 days), well within the wire's 99,999,999 s.
        var deadline = DateTime.UtcNow.AddDays(100);

        var reply = await new TesterClient(channel).Unary(new TestRequest { Text = "far" }, new CallOptions(Deadline: deadline)).ResponseAsync.Bounded();

        reply.Text.Should().Be("far");
        (await serverDeadline.Task.Bounded()).Should().BeCloseTo(deadline, TimeSpan.FromHours(1));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ServerDeadline_HandlerIgnoresItsToken_ServerEndsTheCallWithDeadlineExceeded(bool messageSentFirst)
    {
        var release = Waits.NewSignal();
        var handlerEnded = Waits.NewSignal();
        await using var server = await TestServer.StartAsync(o => o.Handlers.ServerStream = async (_, responses, _) =>
        {
            try
            {
                if (messageSentFirst)
                {
                    await responses.WriteAsync(new TestReply { Text = "first" });
                }

                // Ignores context.CancellationToken on purpose: the server alone must end the call.
                await release.Task;
            }
            finally
            {
                handlerEnded.TrySetResult();
            }
        });
        using var http = RawGrpc.CreateClient(server.BaseUri!);
        var stopwatch = Stopwatch.StartNew();

        using var response = await http.SendAsync(RawGrpc.Post(TesterMethods.ServerStream.FullName, RawGrpc.Frame(new TestRequest()), "application/grpc",
            ("grpc-timeout", "1000m"))).Bounded();
        var frames = await RawGrpc.ReadFramesAsync(response);
        stopwatch.Stop();

        RawGrpc.GetStatusField(response, "grpc-status").Should().Be("4");
        RawGrpc.GetStatusField(response, "grpc-message").Should().Be("Deadline Exceeded");
        frames.Should().HaveCount(messageSentFirst ? 1 : 0);
        stopwatch.Elapsed.Should().BeGreaterThan(TimeSpan.FromMilliseconds(900));
        handlerEnded.Task.IsCompleted.Should().BeFalse(because: "the handler is still blocked when the call ends");
        release.SetResult();
        await handlerEnded.Task.Bounded();
    }

    [Fact]
    public async Task Unary_ClientCancels_ClientCancelledAndServerSeesCancellation()
    {
        var serverCancelled = Waits.NewSignal();
        var handlerStarted = Waits.NewSignal();
        await using var server = await TestServer.StartAsync(o => o.Handlers.Unary = async (_, context) =>
        {
            handlerStarted.TrySetResult();
            await WaitForCancellationAsync(context, serverCancelled);
            return new TestReply();
        });
        using var channel = server.CreateChannel();
        using var cts = new CancellationTokenSource();

        using var call = new TesterClient(channel).Unary(new TestRequest(), new CallOptions(CancellationToken: cts.Token));
        await handlerStarted.Task.Bounded();
        await cts.CancelAsync();

        (await call.ResponseAsync.Awaiting(t => t.Bounded()).Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.Cancelled);
        await serverCancelled.Task.Bounded();
    }

    [Fact]
    public async Task ServerStreaming_ClientCancelsWhileNotReading_ServerSeesCancellation()
    {
        var serverCancelled = Waits.NewSignal();
        await using var server = await TestServer.StartAsync(o => o.Handlers.ServerStream = async (_, responses, context) =>
        {
            await responses.WriteAsync(new TestReply());
            await WaitForCancellationAsync(context, serverCancelled);
        });
        using var channel = server.CreateChannel();
        using var cts = new CancellationTokenSource();

        using var call = new TesterClient(channel).ServerStream(new TestRequest(), new CallOptions(CancellationToken: cts.Token));
        (await call.ResponseStream.MoveNext().Bounded()).Should().BeTrue();
        await cts.CancelAsync();

        // No read is pending: cancelling the token alone must reset the stream.
        await serverCancelled.Task.Bounded();
        (await call.ResponseStream.Awaiting(s => s.MoveNext().Bounded()).Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.Cancelled);
    }

    [Fact]
    public async Task Duplex_ClientDisposesCall_ServerSeesCancellation()
    {
        var serverCancelled = Waits.NewSignal();
        await using var server = await TestServer.StartAsync(o => o.Handlers.Duplex = async (requests, responses, context) =>
        {
            await requests.MoveNext();
            await responses.WriteAsync(new TestReply());
            await WaitForCancellationAsync(context, serverCancelled);
        });
        using var channel = server.CreateChannel();

        var call = new TesterClient(channel).Duplex();
        await call.RequestStream.WriteAsync(new TestRequest()).Bounded();
        (await call.ResponseStream.MoveNext().Bounded()).Should().BeTrue();
        call.Dispose();

        await serverCancelled.Task.Bounded();
        (await call.ResponseStream.Awaiting(s => s.MoveNext().Bounded()).Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.Cancelled);
        await call.RequestStream.Awaiting(s => s.WriteAsync(new TestRequest()).Bounded()).Should().ThrowAsync<RpcException>();
    }

    [Fact]
    public async Task Duplex_ClientCancelsPendingRead_CallCancelledAndServerSeesCancellation()
    {
        var serverCancelled = Waits.NewSignal();
        var handlerStarted = Waits.NewSignal();
        await using var server = await TestServer.StartAsync(o => o.Handlers.Duplex = (_, _, context) =>
        {
            handlerStarted.TrySetResult();
            return WaitForCancellationAsync(context, serverCancelled);
        });
        using var channel = server.CreateChannel();
        using var cts = new CancellationTokenSource();

        using var call = new TesterClient(channel).Duplex(new CallOptions(CancellationToken: cts.Token));
        var read = call.ResponseStream.MoveNext();
        await handlerStarted.Task.Bounded();
        await cts.CancelAsync();

        (await read.Awaiting(t => t.Bounded()).Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.Cancelled);
        await serverCancelled.Task.Bounded();
    }

    [Fact]
    public async Task Duplex_ServerReadsWithATokenOfItsOwn_EveryMessageReadAndItsCancellationEndsThePendingRead()
    {
        var readCancelled = Waits.NewSignal();
        await using var server = await TestServer.StartAsync(o => o.Handlers.Duplex = async (requests, responses, _) =>
        {
            // A read loop with a token of the service's own, as AgentLink's reader does (linked to the call's once).
            using var stopReading = new CancellationTokenSource();
            while (await requests.MoveNext(stopReading.Token))
            {
                await responses.WriteAsync(new TestReply { Text = requests.Current.Text });
                if (requests.Current.Text == "last")
                {
                    var pending = requests.MoveNext(stopReading.Token);
                    await stopReading.CancelAsync();
                    await pending.Awaiting(t => t).Should().ThrowAsync<OperationCanceledException>();
                    readCancelled.TrySetResult();
                    return;
                }
            }
        });
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).Duplex();
        foreach (var text in new[] { "one", "two", "last" })
        {
            await call.RequestStream.WriteAsync(new TestRequest { Text = text }).Bounded();
            (await call.ResponseStream.MoveNext().Bounded()).Should().BeTrue();
            call.ResponseStream.Current.Text.Should().Be(text);
        }

        await readCancelled.Task.Bounded();
        (await call.ResponseStream.MoveNext().Bounded()).Should().BeFalse("the handler returned once its own read was cancelled");
    }

    [Fact]
    public async Task Duplex_ServerReadsWithATokenOfItsOwnAndTheClientCancels_PendingReadEnds()
    {
        var readEnded = Waits.NewSignal<string>();
        var firstRead = Waits.NewSignal();
        await using var server = await TestServer.StartAsync(o => o.Handlers.Duplex = async (requests, _, _) =>
        {
            using var own = new CancellationTokenSource();
            (await requests.MoveNext(own.Token)).Should().BeTrue();
            firstRead.TrySetResult();
            // The same token again, with the source linked for the first read: the call's end must still end it. How it
            // ends is a race of the call's teardown (the reset stream, the call's token, the request body completed):
            // what matters is that the read ends, and returns no message.
            var read = requests.MoveNext(own.Token);
            await read.ContinueWith(
                t => readEnded.TrySetResult(t.IsCompletedSuccessfully ? (t.Result ? "another message" : "the end") : "the end: " + t.Exception?.GetBaseException().GetType().Name),
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            await read;
        });
        using var channel = server.CreateChannel();
        using var cts = new CancellationTokenSource();

        using var call = new TesterClient(channel).Duplex(new CallOptions(CancellationToken: cts.Token));
        await call.RequestStream.WriteAsync(new TestRequest { Text = "first" }).Bounded();
        await firstRead.Task.Bounded();
        await cts.CancelAsync();

        (await readEnded.Task.Bounded()).Should().StartWith("the end");
    }

    [Fact]
    public async Task ClientStreaming_ClientCancelsMidStream_ServerReadFailsNeverEndsCleanly()
    {
        // A cancelled upload must not look finished: the server's next read fails (RST_STREAM(CANCEL)), and never returns
        // false, the end of the request stream, which a handler takes for the whole request. Whether an END_STREAM can
        // overtake the reset is a race in the transport, so the test makes a number of calls.
        const int Calls = 40;
        var firstRead = Waits.NewSignal();
        var ended = Waits.NewSignal<string>();
        await using var server = await TestServer.StartAsync(o => o.Handlers.ClientStream = async (requests, _) =>
        {
            (await requests.MoveNext()).Should().BeTrue();
            firstRead.TrySetResult();
            try
            {
                ended.TrySetResult(await requests.MoveNext() ? "another message" : "a clean end of the request stream");
            }
            catch (Exception ex)
            {
                ended.TrySetResult("failed: " + ex.GetType().Name);
                throw;
            }

            return new TestReply();
        });
        using var channel = server.CreateChannel();
        for (var i = 0; i < Calls; i++)
        {
            (firstRead, ended) = (Waits.NewSignal(), Waits.NewSignal<string>());
            using var cts = new CancellationTokenSource();
            using var call = new TesterClient(channel).ClientStream(new CallOptions(CancellationToken: cts.Token));
            await call.RequestStream.WriteAsync(new TestRequest { Text = "part " + i }).Bounded();
            await firstRead.Task.Bounded();
            await cts.CancelAsync();

            (await ended.Task.Bounded()).Should().StartWith("failed", "call {0} of {1} was cancelled in the middle of its request stream", i + 1, Calls);
            var response = async () => await call.ResponseAsync;
            (await response.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.Cancelled);
        }
    }

    [Fact]
    public async Task Channel_DisposedDuringCall_CallCancelled()
    {
        var handlerStarted = Waits.NewSignal();
        await using var server = await TestServer.StartAsync(o => o.Handlers.Duplex = async (_, _, context) =>
        {
            handlerStarted.TrySetResult();
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
        });
        var channel = server.CreateChannel();

        using var call = new TesterClient(channel).Duplex();
        await handlerStarted.Task.Bounded();
        channel.Dispose();

        (await call.ResponseStream.Awaiting(s => s.MoveNext().Bounded()).Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.Cancelled);
    }

    /// <summary>Counts the HTTP requests a channel really sends.</summary>
    private sealed class CountingHandler() : DelegatingHandler(new SocketsHttpHandler())
    {
        private int _requests;

        public int Requests => Volatile.Read(ref _requests);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _requests);
            return base.SendAsync(request, cancellationToken);
        }
    }
}
