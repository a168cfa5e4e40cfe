using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Relay.Grpc.Tests.Infrastructure;
using Relay.Grpc.Tests.Proto;

namespace Relay.Grpc.Tests.InProcess;

/// <summary>Metadata both ways, statuses, trailers and the server's answers to calls it cannot serve.</summary>
public sealed class MetadataAndStatusTests
{
    private const string SpecialMessage = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n";

    [Theory]
    [InlineData(Transport.Tcp)]
    [InlineData(Transport.Unix)]
    public async Task Unary_RequestMetadata_ReachesHandlerLowercasedWithBinaryDecoded(Transport transport)
    {
        var seen = Waits.NewSignal<Metadata>();
        await using var server = await TestServer.StartAsync(o =>
        {
            o.Transport = transport;
            o.Handlers.Unary = (_, context) =>
            {
                seen.TrySetResult(context.RequestHeaders);
                return Task.FromResult(new TestReply());
            };
        });
        using var channel = server.CreateChannel();
        var headers = new Metadata
        {
            { "X-Custom", "value 1" },
            { "x-custom", "value 2" },
            { "trace-bin", new byte[] { 0, 1, 2, 254, 255 } },
            { "three-bin", new byte[] { 1, 2, 3 } },
        };

        await new TesterClient(channel).Unary(new TestRequest(), new CallOptions(Headers: headers, Deadline: DateTime.UtcNow.AddMinutes(1))).ResponseAsync.Bounded();
        var received = await seen.Task.Bounded();

        // HttpClient sends repeated names as one comma-joined field, which the spec says means the same.
        string.Join(", ", received.GetAll("x-custom").Select(e => e.Value)).Should().Be("value 1, value 2");
        received.GetValueBytes("trace-bin").Should().Equal(0, 1, 2, 254, 255);
        received.GetValueBytes("three-bin").Should().Equal(1, 2, 3);
        // Protocol headers are the layer's business, never the application's metadata.
        received.Select(e => e.Key).Should().NotContain(["te", "content-type", "grpc-timeout", "grpc-accept-encoding", "user-agent", "host", ":path", "content-length"]);
        received.Should().OnlyContain(e => !e.Key.Any(char.IsUpper));
    }

    [Fact]
    public async Task Unary_PaddedAndCommaJoinedBinaryFromAPeer_DecodedOnServer()
    {
        var seen = Waits.NewSignal<Metadata>();
        await using var server = await TestServer.StartAsync(o => o.Handlers.Unary = (_, context) =>
        {
            seen.TrySetResult(context.RequestHeaders);
            return Task.FromResult(new TestReply());
        });
        using var http = RawGrpc.CreateClient(server.BaseUri!);

        // grpc-js pads, grpc-core does not; a proxy may join repeated values with commas.
        using var response = await http.SendAsync(RawGrpc.Post(TesterMethods.Unary.FullName, RawGrpc.Frame(new TestRequest()), "application/grpc",
            ("a-bin", "AQIDBA=="), ("b-bin", "AQID,AQIDBA"), ("bad-bin", "!!!"), ("good", "kept"))).Bounded();
        var received = await seen.Task.Bounded();

        received.GetValueBytes("a-bin").Should().Equal(1, 2, 3, 4);
        received.GetAll("b-bin").Select(e => e.ValueBytes.Length).Should().Equal(3, 4);
        received.Get("bad-bin").Should().BeNull(because: "a malformed value is dropped, not fatal");
        received.GetValue("good").Should().Be("kept");
        await response.Content.ReadAsByteArrayAsync().Bounded();
        RawGrpc.GetStatusField(response, "grpc-status").Should().Be("0");
    }

    [Theory]
    [InlineData(Transport.Tcp)]
    [InlineData(Transport.Unix)]
    public async Task Unary_ResponseHeadersAndTrailers_ReachClientWithoutProtocolHeaders(Transport transport)
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.Transport = transport;
            o.Handlers.Unary = async (_, context) =>
            {
                await context.WriteResponseHeadersAsync(new Metadata { { "initial", "i" }, { "initial-bin", new byte[] { 9, 8 } } });
                context.ResponseTrailers.Add("trailing", "t");
                context.ResponseTrailers.Add("trailing-bin", new byte[] { 0xAB, 0xAB, 0xAB });
                return new TestReply { Text = "ok" };
            };
        });
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).Unary(new TestRequest());
        var responseHeaders = await call.ResponseHeadersAsync.Bounded();
        var reply = await call.ResponseAsync.Bounded();

        reply.Text.Should().Be("ok");
        responseHeaders.GetValue("initial").Should().Be("i");
        responseHeaders.GetValueBytes("initial-bin").Should().Equal(9, 8);
        responseHeaders.Select(e => e.Key).Should().NotContain(["date", "server", "content-type", "grpc-accept-encoding", "grpc-encoding"]);
        var trailers = call.GetTrailers();
        trailers.GetValue("trailing").Should().Be("t");
        trailers.GetValueBytes("trailing-bin").Should().Equal(0xAB, 0xAB, 0xAB);
        trailers.Select(e => e.Key).Should().NotContain(["grpc-status", "grpc-message"]);
    }

    [Fact]
    public async Task WriteResponseHeadersAsync_CalledTwice_SecondThrowsInvalidOperation()
    {
        var second = Waits.NewSignal<Exception?>();
        await using var server = await TestServer.StartAsync(o => o.Handlers.Unary = async (_, context) =>
        {
            await context.WriteResponseHeadersAsync(new Metadata { { "once", "1" } });
            try
            {
                await context.WriteResponseHeadersAsync(new Metadata { { "twice", "2" } });
                second.TrySetResult(null);
            }
            catch (Exception ex)
            {
                second.TrySetResult(ex);
            }

            return new TestReply();
        });
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).Unary(new TestRequest());
        await call.ResponseAsync.Bounded();

        (await second.Task.Bounded()).Should().BeOfType<InvalidOperationException>();
        (await call.ResponseHeadersAsync.Bounded()).Select(e => e.Key).Should().Contain("once").And.NotContain("twice");
    }

    [Fact]
    public async Task Unary_ErrorBeforeAnyMessage_IsTrailersOnlyWithStatusInHeaders()
    {
        await using var server = await TestServer.StartAsync(o => o.Handlers.Unary = (_, context) =>
        {
            context.ResponseTrailers.Add("why", "because");
            throw new RpcException(new Status(StatusCode.NotFound, "no such thing"));
        });
        using var http = RawGrpc.CreateClient(server.BaseUri!);

        using var response = await http.SendAsync(RawGrpc.Post(TesterMethods.Unary.FullName, RawGrpc.Frame(new TestRequest()))).Bounded();
        var body = await response.Content.ReadAsByteArrayAsync().Bounded();

        response.StatusCode.Should().Be(System.Net.HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/grpc");
        response.Headers.GetValues("grpc-status").Should().Equal("5");
        response.Headers.GetValues("grpc-message").Should().Equal("no such thing");
        response.Headers.GetValues("why").Should().Equal("because");
        body.Should().BeEmpty();
        response.TrailingHeaders.Should().BeEmpty();
    }

    [Theory]
    [InlineData(Transport.Tcp)]
    [InlineData(Transport.Unix)]
    public async Task Unary_RpcExceptionWithTrailers_ClientGetsStatusAndTrailers(Transport transport)
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.Transport = transport;
            o.Handlers.Unary = (_, context) =>
            {
                context.ResponseTrailers.Add("from-context", "c");
                throw new RpcException(new Status(StatusCode.FailedPrecondition, "not now"), new Metadata { { "retry-after", "5" }, { "detail-bin", new byte[] { 7 } } });
            };
        });
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).Unary(new TestRequest());
        var error = (await call.ResponseAsync.Awaiting(t => t.Bounded()).Should().ThrowAsync<RpcException>()).Which;

        error.Status.Should().Be(new Status(StatusCode.FailedPrecondition, "not now"));
        error.Trailers.GetValue("retry-after").Should().Be("5");
        error.Trailers.GetValue("from-context").Should().Be("c");
        error.Trailers.GetValueBytes("detail-bin").Should().Equal(7);
        call.GetStatus().StatusCode.Should().Be(StatusCode.FailedPrecondition);
        call.GetTrailers().GetValue("retry-after").Should().Be("5");
    }

    [Fact]
    public async Task ServerStreaming_ErrorAfterMessages_StatusAndTrailersArriveAfterTheMessages()
    {
        await using var server = await TestServer.StartAsync(o => o.Handlers.ServerStream = async (_, responses, context) =>
        {
            await responses.WriteAsync(new TestReply { Index = 0 });
            await responses.WriteAsync(new TestReply { Index = 1 });
            throw new RpcException(new Status(StatusCode.Aborted, "stopped halfway"), new Metadata { { "at", "2" } });
        });
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).ServerStream(new TestRequest());
        (await call.ResponseStream.MoveNext().Bounded()).Should().BeTrue();
        (await call.ResponseStream.MoveNext().Bounded()).Should().BeTrue();
        var error = (await call.ResponseStream.Awaiting(s => s.MoveNext().Bounded()).Should().ThrowAsync<RpcException>()).Which;

        error.Status.Should().Be(new Status(StatusCode.Aborted, "stopped halfway"));
        error.Trailers.GetValue("at").Should().Be("2");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Status_NonAsciiMessage_RoundTripsExactly(bool afterAMessage)
    {
        await using var server = await TestServer.StartAsync(o => o.Handlers.ServerStream = async (_, responses, _) =>
        {
            if (afterAMessage)
            {
                await responses.WriteAsync(new TestReply());
            }

            throw new RpcException(new Status(StatusCode.Unknown, SpecialMessage));
        });
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).ServerStream(new TestRequest());
        var read = async () =>
        {
            while (await call.ResponseStream.MoveNext().Bounded())
            {
            }
        };

        (await read.Should().ThrowAsync<RpcException>()).Which.Status.Should().Be(new Status(StatusCode.Unknown, SpecialMessage));
    }

    [Fact]
    public async Task Status_NonAsciiMessage_IsPercentEncodedOnTheWire()
    {
        await using var server = await TestServer.StartAsync(o => o.Handlers.Unary = (_, _) => throw new RpcException(new Status(StatusCode.Unknown, "é%")));
        using var http = RawGrpc.CreateClient(server.BaseUri!);

        using var response = await http.SendAsync(RawGrpc.Post(TesterMethods.Unary.FullName, RawGrpc.Frame(new TestRequest()))).Bounded();

        response.Headers.GetValues("grpc-message").Should().Equal("%C3%A9%25");
    }

    [Fact]
    public async Task Unary_HandlerThrows_UnknownWithoutExceptionDetails()
    {
        await using var server = await TestServer.StartAsync(o => o.Handlers.Unary = (_, _) => throw new InvalidOperationException("secret connection string"));
        using var channel = server.CreateChannel();

        var error = (await new TesterClient(channel).Unary(new TestRequest()).ResponseAsync.Awaiting(t => t.Bounded()).Should().ThrowAsync<RpcException>()).Which;

        error.Status.Should().Be(new Status(StatusCode.Unknown, "Exception was thrown by handler."));
    }

    [Fact]
    public async Task Unary_HandlerThrowsWithDetailedErrors_MessageIncluded()
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.ConfigureGrpc = g => g.EnableDetailedErrors = true;
            o.Handlers.Unary = (_, _) => throw new InvalidOperationException("the reason");
        });
        using var channel = server.CreateChannel();

        var error = (await new TesterClient(channel).Unary(new TestRequest()).ResponseAsync.Awaiting(t => t.Bounded()).Should().ThrowAsync<RpcException>()).Which;

        error.StatusCode.Should().Be(StatusCode.Unknown);
        error.Status.Detail.Should().Contain("the reason").And.Contain("InvalidOperationException");
    }

    [Fact]
    public async Task Unary_HandlerSetsStatusAndReturns_ClientSeesThatStatus()
    {
        await using var server = await TestServer.StartAsync(o => o.Handlers.ServerStream = (_, _, context) =>
        {
            context.Status = new Status(StatusCode.OutOfRange, "past the end");
            return Task.CompletedTask;
        });
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).ServerStream(new TestRequest());

        (await call.ResponseStream.Awaiting(s => s.MoveNext().Bounded()).Should().ThrowAsync<RpcException>())
            .Which.Status.Should().Be(new Status(StatusCode.OutOfRange, "past the end"));
    }

    [Theory]
    [InlineData("/relay.grpctest.v1.Tester/NoSuchMethod", "Method is unimplemented.")]
    [InlineData("/relay.grpctest.v1.NoSuchService/Unary", "Service is unimplemented.")]
    public async Task Call_UnknownMethodOrService_UnimplementedTrailersOnly(string path, string message)
    {
        await using var server = await TestServer.StartAsync();
        using var channel = server.CreateChannel();
        var method = new Method<TestRequest, TestReply>(MethodType.Unary, path.Split('/')[1], path.Split('/')[2],
            Marshallers.Protobuf(TestRequest.Parser), Marshallers.Protobuf(TestReply.Parser));

        var error = (await channel.CreateCallInvoker().AsyncUnaryCall(method, default, new TestRequest()).ResponseAsync
            .Awaiting(t => t.Bounded()).Should().ThrowAsync<RpcException>()).Which;

        error.Status.Should().Be(new Status(StatusCode.Unimplemented, message));
    }

    [Fact]
    public async Task Call_NonGrpcContentType_Http415()
    {
        await using var server = await TestServer.StartAsync();
        using var http = RawGrpc.CreateClient(server.BaseUri!);

        using var response = await http.SendAsync(RawGrpc.Post(TesterMethods.Unary.FullName, "{}"u8.ToArray(), "application/json")).Bounded();

        response.StatusCode.Should().Be(System.Net.HttpStatusCode.UnsupportedMediaType);
        response.Headers.GetValues("grpc-status").Should().Equal("13");
    }

    [Fact]
    public async Task Call_Http11_Http426UpgradeRequired()
    {
        await using var server = await TestServer.StartAsync(o => o.AddHttp1Endpoint = true);
        using var http = RawGrpc.CreateClient(server.Http1BaseUri!);
        using var request = RawGrpc.Post(TesterMethods.Unary.FullName, RawGrpc.Frame(new TestRequest()));
        request.Version = System.Net.HttpVersion.Version11;

        using var response = await http.SendAsync(request).Bounded();

        response.StatusCode.Should().Be(System.Net.HttpStatusCode.UpgradeRequired);
        response.Headers.Upgrade.ToString().Should().Be("HTTP/2");
    }

    [Fact]
    public async Task Unary_TwoRequestMessages_UnimplementedAndHandlerNotRun()
    {
        var handlerRuns = 0;
        await using var server = await TestServer.StartAsync(o => o.Handlers.Unary = (_, _) =>
        {
            Interlocked.Increment(ref handlerRuns);
            return Task.FromResult(new TestReply());
        });
        using var http = RawGrpc.CreateClient(server.BaseUri!);
        var body = RawGrpc.Frame(new TestRequest { Text = "1" }).Concat(RawGrpc.Frame(new TestRequest { Text = "2" })).ToArray();

        using var response = await http.SendAsync(RawGrpc.Post(TesterMethods.Unary.FullName, body)).Bounded();
        await response.Content.ReadAsByteArrayAsync().Bounded();

        RawGrpc.GetStatusField(response, "grpc-status").Should().Be("12");
        handlerRuns.Should().Be(0);
    }

    [Fact]
    public async Task Unary_TruncatedRequest_InternalIncompleteMessage()
    {
        await using var server = await TestServer.StartAsync();
        using var http = RawGrpc.CreateClient(server.BaseUri!);

        using var response = await http.SendAsync(RawGrpc.Post(TesterMethods.Unary.FullName, RawGrpc.Frame(new TestRequest { Text = "cut" })[..6])).Bounded();
        await response.Content.ReadAsByteArrayAsync().Bounded();

        RawGrpc.GetStatusField(response, "grpc-status").Should().Be("13");
        RawGrpc.GetStatusField(response, "grpc-message").Should().Be("Incomplete message.");
    }

    [Fact]
    public async Task Unary_OkResponse_StatusZeroInRealTrailers()
    {
        await using var server = await TestServer.StartAsync();
        using var http = RawGrpc.CreateClient(server.BaseUri!);

        using var response = await http.SendAsync(RawGrpc.Post(TesterMethods.Unary.FullName, RawGrpc.Frame(new TestRequest { Text = "x" }))).Bounded();
        var frames = await RawGrpc.ReadFramesAsync(response);

        frames.Should().ContainSingle().Which.Flag.Should().Be(0);
        TestReply.Parser.ParseFrom(frames[0].Payload).Text.Should().Be("x");
        response.Headers.Contains("grpc-status").Should().BeFalse();
        response.TrailingHeaders.GetValues("grpc-status").Should().Equal("0");
    }

    public static TheoryData<string, int, StatusCode> OddResponses => new()
    {
        // Trailers-Only OK for a unary call: a response message was required.
        { "trailers-only-ok", 200, StatusCode.Internal },
        // No grpc-status anywhere.
        { "no-status", 200, StatusCode.Internal },
        // HTTP errors without grpc-status map by doc/http-grpc-status-mapping.md.
        { "http-status", 404, StatusCode.Unimplemented },
        { "http-status", 503, StatusCode.Unavailable },
        { "http-status", 401, StatusCode.Unauthenticated },
        // A 200 that is not gRPC at all.
        { "not-grpc", 200, StatusCode.Unknown },
        // Two messages on a unary response.
        { "two-messages", 200, StatusCode.Internal },
        // grpc-status that is not a number.
        { "bad-status", 200, StatusCode.Unknown },
        // A compressed message in an encoding the client cannot decode.
        { "unknown-encoding", 200, StatusCode.Internal },
    };

    [Theory]
    [MemberData(nameof(OddResponses))]
    public async Task Client_OddServerResponses_MappedToStatuses(string kind, int httpStatus, StatusCode expected)
    {
        await using var server = await TestServer.StartAsync(o => o.ConfigureEndpoints = e => e.MapPost("/odd.Service/{kind}", async context =>
        {
            var response = context.Response;
            switch (context.Request.RouteValues["kind"] as string)
            {
                case "trailers-only-ok":
                    response.ContentType = "application/grpc";
                    response.Headers["grpc-status"] = "0";
                    break;
                case "no-status":
                    response.ContentType = "application/grpc";
                    await response.Body.WriteAsync(RawGrpc.Frame(new TestReply()));
                    break;
                case "http-status":
                    response.StatusCode = httpStatus;
                    break;
                case "not-grpc":
                    response.ContentType = "text/html";
                    await response.WriteAsync("<html/>");
                    break;
                case "two-messages":
                    response.ContentType = "application/grpc";
                    await response.Body.WriteAsync(RawGrpc.Frame(new TestReply()).Concat(RawGrpc.Frame(new TestReply())).ToArray());
                    response.AppendTrailer("grpc-status", "0");
                    break;
                case "unknown-encoding":
                    response.ContentType = "application/grpc";
                    response.Headers["grpc-encoding"] = "snappy";
                    await response.Body.WriteAsync(RawGrpc.Frame([1, 2, 3], flag: 1));
                    response.AppendTrailer("grpc-status", "0");
                    break;
                case "bad-status":
                    response.ContentType = "application/grpc";
                    response.Headers["grpc-status"] = "OK";
                    break;
            }
        }));
        using var channel = server.CreateChannel();
        var method = new Method<TestRequest, TestReply>(MethodType.Unary, "odd.Service", kind,
            Marshallers.Protobuf(TestRequest.Parser), Marshallers.Protobuf(TestReply.Parser));

        var error = (await channel.CreateCallInvoker().AsyncUnaryCall(method, default, new TestRequest()).ResponseAsync
            .Awaiting(t => t.Bounded()).Should().ThrowAsync<RpcException>()).Which;

        error.StatusCode.Should().Be(expected);
    }

    [Fact]
    public async Task Client_PeerSendsPaddedAndCommaJoinedBinaryTrailers_Decoded()
    {
        await using var server = await TestServer.StartAsync(o => o.ConfigureEndpoints = e => e.MapPost("/odd.Service/Bin", async context =>
        {
            context.Response.ContentType = "application/grpc";
            await context.Response.Body.WriteAsync(RawGrpc.Frame(new TestReply { Text = "r" }));
            context.Response.AppendTrailer("grpc-status", "0");
            context.Response.AppendTrailer("a-bin", "AQIDBA==");
            context.Response.AppendTrailer("b-bin", "AQID,AQIDBA");
        }));
        using var channel = server.CreateChannel();
        var method = new Method<TestRequest, TestReply>(MethodType.Unary, "odd.Service", "Bin",
            Marshallers.Protobuf(TestRequest.Parser), Marshallers.Protobuf(TestReply.Parser));

        using var call = channel.CreateCallInvoker().AsyncUnaryCall(method, default, new TestRequest());
        (await call.ResponseAsync.Bounded()).Text.Should().Be("r");

        call.GetTrailers().GetValueBytes("a-bin").Should().Equal(1, 2, 3, 4);
        call.GetTrailers().GetAll("b-bin").Select(e => e.ValueBytes.Length).Should().Equal(3, 4);
    }
}
