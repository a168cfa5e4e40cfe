using System.Diagnostics;
using System.Net.Sockets;
using Google.Protobuf;
using Relay.Agent.Hooks;
using Relay.Agent.Hooks.Client;
using Relay.Broker.Tests.Infrastructure;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Agent.Tests.Hooks.Client;

/// <summary>
/// The hook client's single-call HTTP/2 client: against the real server stack (Kestrel and Relay.Grpc), against a
/// hand-driven server that misbehaves on purpose, and against Node's HTTP/2 (another HPACK encoder, with Huffman coding
/// and a dynamic table). Every call must end in a status, within its budget.
/// </summary>
public sealed class GrpcUnaryCallTests : IDisposable
{
    // Generous: the happy paths must not depend on the machine's load. Timeouts are tested with short budgets.
    private static readonly TimeSpan Patient = TimeSpan.FromSeconds(30);

    private readonly TempDirectory _root = new("relay-h2-");

    public GrpcUnaryCallTests() => Directory.CreateDirectory(_root.Path);

    private string SocketPath => Path.Combine(_root.Path, "agent.sock");

    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task Invoke_RealServer_DeliversTheRequestAndReturnsTheAnswer()
    {
        using var timeout = TestTimeout.Start();
        await using var server = await ScriptedHookServer.StartAsync(SocketPath, timeout.Token);
        HookRequest? received = null;
        server.Hook.OnHook = (request, _) =>
        {
            received = request;
            return Task.FromResult(new HookResponse { OutputJson = "{\"ok\":true}" });
        };
        var request = new HookRequest { EventId = "e-1", RawJson = "{\"hook_event_name\":\"SessionStart\"}", ClaudePid = 42 };

        var reply = await InvokeAsync(HookCommand.HookPath, request.ToByteArray(), Patient);

        reply.Status.Should().Be(StatusCode.OK, reply.Detail);
        HookResponse.Parser.ParseFrom(reply.Message).OutputJson.Should().Be("{\"ok\":true}");
        received.Should().Be(request);
    }

    [Fact]
    public async Task Invoke_LargeRequestAndAnswer_WaitForTheServersWindowsAndSpanManyFrames()
    {
        using var timeout = TestTimeout.Start();
        await using var server = await ScriptedHookServer.StartAsync(SocketPath, timeout.Token);

        // Kestrel opens 768 KiB per stream and 1 MiB per connection: 3 MiB needs its WINDOW_UPDATEs. The answer is far
        // more than HTTP/2's default 64 KiB window, which the client must have opened at the start.
        var rawJson = "{\"padding\":\"" + new string('r', 3 * 1024 * 1024) + "\"}";
        var output = "{\"briefing\":\"" + new string('a', 2 * 1024 * 1024) + "\"}";
        server.Hook.OnHook = (request, _) => Task.FromResult(new HookResponse { OutputJson = request.RawJson == rawJson ? output : "mangled" });

        var reply = await InvokeAsync(HookCommand.HookPath, new HookRequest { EventId = "e-big", RawJson = rawJson }.ToByteArray(), Patient);

        reply.Status.Should().Be(StatusCode.OK, reply.Detail);
        HookResponse.Parser.ParseFrom(reply.Message).OutputJson.Should().Be(output);
    }

    [Fact]
    public async Task Invoke_ServerRefusesTheCall_ReturnsItsStatusAndTheDecodedMessage()
    {
        using var timeout = TestTimeout.Start();
        await using var server = await ScriptedHookServer.StartAsync(SocketPath, timeout.Token);
        const string Message = "The hook payload is not valid JSON: 'é' at 100%\nline 2";
        server.Hook.OnHook = (_, _) => throw new RpcException(new Status(StatusCode.InvalidArgument, Message));

        var reply = await InvokeAsync(HookCommand.HookPath, new HookRequest { EventId = "e-2" }.ToByteArray(), Patient);

        reply.Status.Should().Be(StatusCode.InvalidArgument);
        reply.Detail.Should().Be(Message);
        reply.Message.Should().BeNull();
    }

    [Fact]
    public async Task Invoke_UnknownMethod_IsUnimplemented()
    {
        using var timeout = TestTimeout.Start();
        await using var server = await ScriptedHookServer.StartAsync(SocketPath, timeout.Token);

        var reply = await InvokeAsync("/relay.v1.LocalAgent/NoSuchMethod", [], Patient);

        reply.Status.Should().Be(StatusCode.Unimplemented, reply.Detail);
    }

    [Fact]
    public async Task Invoke_ServerStalls_GivesUpWhenTheBudgetIsSpent()
    {
        using var timeout = TestTimeout.Start();
        await using var server = await ScriptedHookServer.StartAsync(SocketPath, timeout.Token);
        var stall = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.Hook.OnHook = async (_, context) =>
        {
            await stall.Task.WaitAsync(context.CancellationToken);
            return new HookResponse();
        };
        var budget = TimeSpan.FromMilliseconds(400);

        var clock = Stopwatch.StartNew();
        var reply = await InvokeAsync(HookCommand.HookPath, new HookRequest { EventId = "e-3" }.ToByteArray(), budget);

        reply.Status.Should().Be(StatusCode.DeadlineExceeded, reply.Detail);
        clock.Elapsed.Should().BeGreaterThanOrEqualTo(budget - TimeSpan.FromMilliseconds(50)).And.BeLessThan(budget + TimeSpan.FromSeconds(3));
        stall.SetResult();
    }

    [Fact]
    public async Task Invoke_NoSocket_IsUnavailableAndSaysSo()
    {
        var reply = await InvokeAsync(HookCommand.HookPath, [], Patient);

        reply.Status.Should().Be(StatusCode.Unavailable);
        reply.Detail.Should().Contain("there is no socket");
    }

    [Fact]
    public async Task Invoke_SocketFileWithNobodyListening_IsUnavailable()
    {
        // The socket file of an agent that was killed: .NET removes the file of a socket it bound when it closes it, so
        // the file is moved to the agent's path before that.
        var bound = SocketPath + ".tmp";
        using (var gone = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            gone.Bind(new UnixDomainSocketEndPoint(bound));
            File.Move(bound, SocketPath);
        }

        var reply = await InvokeAsync(HookCommand.HookPath, [], Patient);

        reply.Status.Should().Be(StatusCode.Unavailable);
        reply.Detail.Should().Contain("cannot connect").And.Contain("refused");
    }

    [Fact]
    public async Task Invoke_ListenerThatStoppedAccepting_ConnectGivesUpWhenTheBudgetIsSpent()
    {
        using var listener = FullListener.Open(SocketPath);
        var budget = TimeSpan.FromMilliseconds(400);
        var clock = Stopwatch.StartNew();

        var reply = await InvokeAsync(HookCommand.HookPath, [], budget);

        reply.Status.Should().Be(StatusCode.DeadlineExceeded, reply.Detail);
        clock.Elapsed.Should().BeLessThan(budget + TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task Invoke_SilentServer_GivesUpWhenTheBudgetIsSpent()
    {
        using var timeout = TestTimeout.Start();
        await using var server = FakeHttp2Server.Listen(SocketPath, timeout.Token);
        var budget = TimeSpan.FromMilliseconds(400);
        var clock = Stopwatch.StartNew();

        var call = InvokeAsync(HookCommand.HookPath, [1, 2, 3], budget);
        await server.AcceptAsync();
        (await server.ReadBodyAsync()).Should().Equal(0, 0, 0, 0, 3, 1, 2, 3);
        var reply = await call;

        reply.Status.Should().Be(StatusCode.DeadlineExceeded);
        clock.Elapsed.Should().BeLessThan(budget + TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task Invoke_RequestHeaders_AreWhatAGrpcServerExpects()
    {
        using var timeout = TestTimeout.Start();
        await using var server = FakeHttp2Server.Listen(SocketPath, timeout.Token);

        var call = InvokeAsync(HookCommand.HookPath, [7], TimeSpan.FromSeconds(20));
        var headers = await server.AcceptAsync();
        await server.ReadBodyAsync();
        await server.AnswerAsync([]);
        var reply = await call;

        headers.Select(h => h.Key).Take(4).Should().Equal(":method", ":scheme", ":path", ":authority");
        var map = headers.ToDictionary(h => h.Key, h => h.Value);
        map.Should().Contain(":method", "POST").And.Contain(":scheme", "http").And.Contain(":path", HookCommand.HookPath)
            .And.Contain("content-type", "application/grpc").And.Contain("te", "trailers");
        var timeoutHeader = map["grpc-timeout"];
        timeoutHeader.Should().EndWith("m");
        int.Parse(timeoutHeader[..^1], System.Globalization.CultureInfo.InvariantCulture).Should().BeInRange(1, 20_000);
        reply.Status.Should().Be(StatusCode.OK, reply.Detail);
        reply.Message.Should().BeEmpty();
    }

    [Fact]
    public async Task Invoke_ServerHonoursAndTestsFlowControl_TheClientStopsAtTheWindowAndAnswersPing()
    {
        using var timeout = TestTimeout.Start();
        await using var server = FakeHttp2Server.Listen(SocketPath, timeout.Token);
        var message = Enumerable.Range(0, 100_000).Select(i => (byte)i).ToArray();

        var call = InvokeAsync(HookCommand.HookPath, message, Patient);
        await server.AcceptAsync();

        // Nothing from the server yet: both windows are HTTP/2's initial 65,535 bytes, in frames of at most 16,384.
        var body = new List<byte>();
        while (body.Count < 65_535)
        {
            var frame = await server.ReadFrameAsync();
            if (frame.Type == Http2.Data)
            {
                frame.Payload.Length.Should().BeLessThanOrEqualTo(16_384);
                body.AddRange(frame.Payload);
            }
        }

        body.Should().HaveCount(65_535, "the client must stop exactly at the window");

        // A PING now is answered before anything else: a client that went past the window would have sent DATA first.
        var ping = new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 };
        await server.WriteFrameAsync(Http2.Ping, 0, 0, ping);
        var ack = await server.ReadFrameAsync();
        ack.Should().BeEquivalentTo(new FakeHttp2Server.Frame(Http2.Ping, Http2.FlagAck, 0, ping));

        await server.WriteFrameAsync(Http2.WindowUpdate, 0, 0, FakeHttp2Server.UInt32(1_000_000));
        await server.WriteFrameAsync(Http2.WindowUpdate, 0, 1, FakeHttp2Server.UInt32(1_000_000));
        body.AddRange(await server.ReadBodyAsync());
        await server.AnswerAsync([9]);

        var reply = await call;
        reply.Status.Should().Be(StatusCode.OK, reply.Detail);
        body.Should().Equal(FakeHttp2Server.Framed(message));
    }

    [Fact]
    public async Task Invoke_PaddedFramesAndAContinuedHeaderBlock_AreRead()
    {
        using var timeout = TestTimeout.Start();
        await using var server = FakeHttp2Server.Listen(SocketPath, timeout.Token);

        var call = InvokeAsync(HookCommand.HookPath, [], Patient);
        await server.AcceptAsync();
        await server.ReadBodyAsync();
        var headers = FakeHttp2Server.Block((":status", "200"), ("content-type", "application/grpc"), ("x-extra", "value"));
        await server.WriteFrameAsync(Http2.Headers, 0, 1, headers[..5]);
        await server.WriteFrameAsync(Http2.Continuation, 0, 1, headers[5..10]);
        await server.WriteFrameAsync(Http2.Continuation, Http2.FlagEndHeaders, 1, headers[10..]);
        byte[] data = [3, .. FakeHttp2Server.Framed([4, 2]), 0, 0, 0];
        await server.WriteFrameAsync(Http2.Data, Http2.FlagPadded, 1, data);
        await server.WriteFrameAsync(Http2.Headers, Http2.FlagEndHeaders | Http2.FlagEndStream | Http2.FlagPadded, 1, [2, .. FakeHttp2Server.Block(("grpc-status", "0")), 0, 0]);

        var reply = await call;
        reply.Status.Should().Be(StatusCode.OK, reply.Detail);
        reply.Message.Should().Equal(4, 2);
    }

    [Fact]
    public async Task Invoke_InformationalAnswerFirst_ReadsTheRealOneAfterIt()
    {
        using var timeout = TestTimeout.Start();
        await using var server = FakeHttp2Server.Listen(SocketPath, timeout.Token);

        var call = InvokeAsync(HookCommand.HookPath, [], Patient);
        await server.AcceptAsync();
        await server.SendHeadersAsync(false, (":status", "100"));
        await server.AnswerAsync([5]);

        var reply = await call;
        reply.Status.Should().Be(StatusCode.OK, reply.Detail);
        reply.Message.Should().Equal(5);
    }

    [Fact]
    public void HookPath_IsLocalAgentHook() => HookCommand.HookPath.Should().Be(LocalAgent.HookMethod.FullName);

    [Fact]
    public async Task Invoke_GoAwayBeforeTheCall_IsUnavailableWithTheServersReason()
    {
        using var timeout = TestTimeout.Start();
        await using var server = FakeHttp2Server.Listen(SocketPath, timeout.Token);

        var call = InvokeAsync(HookCommand.HookPath, [], Patient);
        await server.AcceptAsync();
        await server.WriteFrameAsync(Http2.GoAway, 0, 0, [.. FakeHttp2Server.UInt32(0), .. FakeHttp2Server.UInt32(0), .. "shutting down"u8.ToArray()]);

        var reply = await call;
        reply.Status.Should().Be(StatusCode.Unavailable);
        reply.Detail.Should().Contain("GOAWAY NO_ERROR: shutting down");
    }

    [Fact]
    public async Task Invoke_GoAwayThatKeepsTheCall_StillGetsTheAnswer()
    {
        using var timeout = TestTimeout.Start();
        await using var server = FakeHttp2Server.Listen(SocketPath, timeout.Token);

        var call = InvokeAsync(HookCommand.HookPath, [], Patient);
        await server.AcceptAsync();
        await server.ReadBodyAsync();
        await server.WriteFrameAsync(Http2.GoAway, 0, 0, [.. FakeHttp2Server.UInt32(1), .. FakeHttp2Server.UInt32(0)]);
        await server.AnswerAsync([1]);

        var reply = await call;
        reply.Status.Should().Be(StatusCode.OK, reply.Detail);
        reply.Message.Should().Equal(1);
    }

    [Theory]
    [InlineData(0x7u, StatusCode.Unavailable, "REFUSED_STREAM")]
    [InlineData(0x8u, StatusCode.Cancelled, "CANCEL")]
    [InlineData(0xbu, StatusCode.ResourceExhausted, "ENHANCE_YOUR_CALM")]
    [InlineData(0x1u, StatusCode.Internal, "PROTOCOL_ERROR")]
    public async Task Invoke_StreamReset_IsMappedAsGrpcDoes(uint code, StatusCode expected, string name)
    {
        using var timeout = TestTimeout.Start();
        await using var server = FakeHttp2Server.Listen(SocketPath, timeout.Token);

        var call = InvokeAsync(HookCommand.HookPath, [], Patient);
        await server.AcceptAsync();
        await server.WriteFrameAsync(Http2.RstStream, 0, 1, FakeHttp2Server.UInt32(code));

        var reply = await call;
        reply.Status.Should().Be(expected);
        reply.Detail.Should().Contain("RST_STREAM " + name);
    }

    [Fact]
    public async Task Invoke_ServerClosesBeforeAnswering_IsUnavailable()
    {
        using var timeout = TestTimeout.Start();
        await using var server = FakeHttp2Server.Listen(SocketPath, timeout.Token);

        var call = InvokeAsync(HookCommand.HookPath, [], Patient);
        await server.AcceptAsync();
        await server.SendResponseHeadersAsync();
        server.CloseConnection();

        var reply = await call;
        reply.Status.Should().Be(StatusCode.Unavailable);
        reply.Detail.Should().Contain("closed the connection before it answered");
    }

    public static TheoryData<string, byte[], StatusCode, string> BrokenAnswers => new()
    {
        // A frame header announcing more than the client's SETTINGS_MAX_FRAME_SIZE: refused before its payload is awaited.
        { "oversized frame", [0x00, 0x4e, 0x20, Http2.Data, 0, 0, 0, 0, 1], StatusCode.Internal, "FRAME_SIZE_ERROR" },
        { "bad HPACK index", FakeHttp2Server.FrameBytes(Http2.Headers, Http2.FlagEndHeaders, 1, [0xff, 0x80, 0x01]), StatusCode.Internal, "COMPRESSION_ERROR" },
        { "DATA first", FakeHttp2Server.FrameBytes(Http2.Data, 0, 1, [0]), StatusCode.Internal, "DATA before the response headers" },
        { "DATA on another stream", FakeHttp2Server.FrameBytes(Http2.Data, 0, 3, [0]), StatusCode.Internal, "stream 3" },
        { "push", FakeHttp2Server.FrameBytes(Http2.PushPromise, Http2.FlagEndHeaders, 1, [0, 0, 0, 2]), StatusCode.Internal, "PUSH_PROMISE" },
        { "short PING", FakeHttp2Server.FrameBytes(Http2.Ping, 0, 0, [1, 2, 3]), StatusCode.Internal, "FRAME_SIZE_ERROR" },
        { "SETTINGS of 5 bytes", FakeHttp2Server.FrameBytes(Http2.Settings, 0, 0, [0, 4, 0, 0, 0]), StatusCode.Internal, "FRAME_SIZE_ERROR" },
        { "tiny max frame size", FakeHttp2Server.FrameBytes(Http2.Settings, 0, 0, [0, 5, 0, 0, 0, 1]), StatusCode.Internal, "SETTINGS_MAX_FRAME_SIZE" },
        { "window overflow", FakeHttp2Server.FrameBytes(Http2.WindowUpdate, 0, 0, FakeHttp2Server.UInt32(int.MaxValue)), StatusCode.Internal, "FLOW_CONTROL_ERROR" },
        { "no :status", FakeHttp2Server.FrameBytes(Http2.Headers, Http2.FlagEndHeaders | Http2.FlagEndStream, 1, FakeHttp2Server.Block(("grpc-status", "0"))), StatusCode.Internal, ":status" },
        {
            "trailers-only OK",
            FakeHttp2Server.FrameBytes(Http2.Headers, Http2.FlagEndHeaders | Http2.FlagEndStream, 1, FakeHttp2Server.Block((":status", "200"), ("content-type", "application/grpc"), ("grpc-status", "0"))),
            StatusCode.Internal, "without a response message"
        },
        {
            "HTTP 503",
            FakeHttp2Server.FrameBytes(Http2.Headers, Http2.FlagEndHeaders | Http2.FlagEndStream, 1, FakeHttp2Server.Block((":status", "503"))),
            StatusCode.Unavailable, "HTTP 503"
        },
        {
            "not gRPC",
            FakeHttp2Server.FrameBytes(Http2.Headers, Http2.FlagEndHeaders | Http2.FlagEndStream, 1, FakeHttp2Server.Block((":status", "200"), ("content-type", "text/html"))),
            StatusCode.Unknown, "content-type text/html"
        },
        { "two messages", [.. Headers200(), .. FakeHttp2Server.FrameBytes(Http2.Data, 0, 1, [.. FakeHttp2Server.Framed([1]), .. FakeHttp2Server.Framed([2])])], StatusCode.Internal, "more than one message" },
        { "compressed", [.. Headers200(), .. FakeHttp2Server.FrameBytes(Http2.Data, 0, 1, [1, 0, 0, 0, 1, 9])], StatusCode.Internal, "compressed" },
        { "message over the limit", [.. Headers200(), .. FakeHttp2Server.FrameBytes(Http2.Data, 0, 1, [0, 0, 0x50, 0, 0])], StatusCode.ResourceExhausted, "exceeds the maximum" },
        { "no status at the end", [.. Headers200(), .. FakeHttp2Server.FrameBytes(Http2.Data, Http2.FlagEndStream, 1, FakeHttp2Server.Framed([1]))], StatusCode.Internal, "No grpc-status" },
        { "invalid grpc-status", [.. Headers200(), .. FakeHttp2Server.FrameBytes(Http2.Headers, Http2.FlagEndHeaders | Http2.FlagEndStream, 1, FakeHttp2Server.Block(("grpc-status", "x")))], StatusCode.Unknown, "invalid grpc-status" },
        { "trailers without END_STREAM", [.. Headers200(), .. FakeHttp2Server.FrameBytes(Http2.Headers, Http2.FlagEndHeaders, 1, FakeHttp2Server.Block(("grpc-status", "0")))], StatusCode.Internal, "does not end the stream" },
        {
            "informational answer that ends the stream",
            FakeHttp2Server.FrameBytes(Http2.Headers, Http2.FlagEndHeaders | Http2.FlagEndStream, 1, FakeHttp2Server.Block((":status", "100"))),
            StatusCode.Internal, "informational"
        },
        { "interrupted header block", [.. FakeHttp2Server.FrameBytes(Http2.Headers, 0, 1, [0x88]), .. FakeHttp2Server.FrameBytes(Http2.Ping, 0, 0, new byte[8])], StatusCode.Internal, "interrupted" },
    };

    [Theory]
    [MemberData(nameof(BrokenAnswers))]
    public async Task Invoke_ServerBreaksTheProtocol_FailsAtOnceWithAStatusThatSaysWhat(string what, byte[] answer, StatusCode expected, string reason)
    {
        using var timeout = TestTimeout.Start();
        await using var server = FakeHttp2Server.Listen(SocketPath, timeout.Token);
        var clock = Stopwatch.StartNew();

        var call = InvokeAsync(HookCommand.HookPath, [], Patient);
        await server.AcceptAsync();
        await server.WriteRawAsync(answer);

        var reply = await call;
        reply.Status.Should().Be(expected, what + ": " + reply.Detail);
        reply.Detail.Should().Contain(reason, what);
        clock.Elapsed.Should().BeLessThan(Patient / 2, what + " must not wait for the budget");
    }

    [Fact]
    public async Task Invoke_NodeHttp2Server_HuffmanCodedAndIndexedHeadersAreDecoded()
    {
        using var timeout = TestTimeout.Start();
        using var node = await NodeHttp2Echo.StartAsync(SocketPath, timeout.Token);

        // Two calls on two connections; nghttp2 Huffman-codes the values and indexes them in its dynamic table.
        var ok = await InvokeAsync("/relay.v1.LocalAgent/Hook", [1, 2, 3], Patient);
        var refused = await InvokeAsync("/relay.v1.LocalAgent/Refuse", [4], Patient);

        ok.Status.Should().Be(StatusCode.OK, ok.Detail);
        ok.Message.Should().Equal(1, 2, 3);
        refused.Status.Should().Be(StatusCode.InvalidArgument);
        refused.Detail.Should().Be("The hook payload is not valid JSON: 'é' at 100%");
    }

    private static byte[] Headers200() =>
        FakeHttp2Server.FrameBytes(Http2.Headers, Http2.FlagEndHeaders, 1, FakeHttp2Server.Block((":status", "200"), ("content-type", "application/grpc")));

    private Task<UnaryReply> InvokeAsync(string path, byte[] message, TimeSpan budget) =>
        Task.Run(() => GrpcUnaryCall.Invoke(SocketPath, path, message, CallBudget.StartNew(budget)));

    /// <summary>Connects non-blocking clients until the listener's backlog is full (connect says EAGAIN).</summary>
    /// <summary>Node's built-in HTTP/2 server (nghttp2) answering like a gRPC server: echo, or INVALID_ARGUMENT on /Refuse.</summary>
    private sealed class NodeHttp2Echo : IDisposable
    {
        private const string Script = """
            const http2 = require('http2');
            const server = http2.createServer();
            server.on('stream', (stream, headers) => {
              const chunks = [];
              stream.on('data', c => chunks.push(c));
              stream.on('end', () => {
                if (headers[':path'].endsWith('/Refuse')) {
                  stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '3',
                    'grpc-message': encodeURIComponent("The hook payload is not valid JSON: 'é' at 100%") }, { endStream: true });
                  return;
                }
                stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-relay-note': 'a value long enough to be worth huffman coding' },
                  { waitForTrailers: true });
                stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'all good' }));
                stream.end(Buffer.concat(chunks));
              });
            });
            server.listen(process.argv[1], () => console.log('listening'));
            """;

        private readonly Process _process;

        private NodeHttp2Echo(Process process) => _process = process;

        public static async Task<NodeHttp2Echo> StartAsync(string socketPath, CancellationToken cancellationToken)
        {
            var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add("-e");
            start.ArgumentList.Add(Script);
            start.ArgumentList.Add(socketPath);
            var process = Process.Start(start)!;
            var echo = new NodeHttp2Echo(process);
            var line = await process.StandardOutput.ReadLineAsync(cancellationToken);
            if (line != "listening")
            {
                echo.Dispose();
                throw new InvalidOperationException("node did not start: " + await process.StandardError.ReadToEndAsync(cancellationToken));
            }

            return echo;
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }

            _process.Dispose();
        }
    }
}
