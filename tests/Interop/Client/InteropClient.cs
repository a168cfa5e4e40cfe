using FluentAssertions.Specialized;
using Google.Protobuf;
using Grpc.Health.V1;
using Grpc.Testing;
using Relay.Grpc;
using Relay.Interop.Tests.Service;

namespace Relay.Interop.Tests.Client;

/// <summary>
/// The interop client on Relay.Grpc: the cases of grpc/grpc doc/interop-test-descriptions.md ("Client"
/// section), asserting what the spec asserts, against any server that implements
/// <c>grpc.testing.TestService</c>. A case passes when <see cref="RunAsync"/> returns; it throws otherwise.
/// </summary>
internal sealed class InteropClient : IDisposable
{
    /// <summary>The spec's cases (the peers run the same list), plus compressed_unary and health.</summary>
    public static readonly IReadOnlyList<string> Cases =
    [
        "empty_unary", "large_unary", "client_streaming", "server_streaming", "ping_pong", "empty_stream",
        "cancel_after_begin", "cancel_after_first_response", "timeout_on_sleeping_server",
        "status_code_and_message", "special_status_message", "custom_metadata",
        "unimplemented_method", "unimplemented_service", "compressed_unary", "health",
    ];

    /// <summary>Each case's calls share this deadline, like the peers' <c>--timeout-seconds</c>.</summary>
    public static readonly TimeSpan CaseTimeout = TimeSpan.FromSeconds(10);

    private const string EchoInitialValue = "test_initial_metadata_value";
    private const string SpecialMessage = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001F608\t\n";

    private static readonly byte[] s_echoTrailingValue = [0xab, 0xab, 0xab];
    private static readonly int[] s_requestSizes = [27182, 8, 1828, 45904];
    private static readonly int[] s_responseSizes = [31415, 9, 2653, 58979];

    private static readonly Method<HealthCheckRequest, HealthCheckResponse> s_healthCheck = new(
        MethodType.Unary, "grpc.health.v1.Health", "Check", Marshallers.Protobuf(HealthCheckRequest.Parser), Marshallers.Protobuf(HealthCheckResponse.Parser));

    private static readonly Method<HealthCheckRequest, HealthCheckResponse> s_healthWatch = new(
        MethodType.ServerStreaming, "grpc.health.v1.Health", "Watch", Marshallers.Protobuf(HealthCheckRequest.Parser), Marshallers.Protobuf(HealthCheckResponse.Parser));

    private readonly GrpcChannel _channel;
    private readonly GrpcChannel _gzipChannel;
    private readonly CallInvoker _invoker;
    private readonly bool _serverChecksCompression;
    private DateTime _deadline;

    /// <param name="target">The server: <c>127.0.0.1:PORT</c> or <c>unix:/path</c>.</param>
    /// <param name="serverChecksCompression">Whether the server can tell a compressed request from a
    /// plain one. The stock peer servers cannot, so compressed_unary's probe accepts OK from them.</param>
    public InteropClient(string target, bool serverChecksCompression)
    {
        _channel = GrpcChannel.ForAddress(target);
        _gzipChannel = GrpcChannel.ForAddress(target, new GrpcChannelOptions { CompressionAlgorithm = "gzip" });
        _invoker = _channel.CreateCallInvoker();
        _serverChecksCompression = serverChecksCompression;
    }

    public void Dispose()
    {
        _channel.Dispose();
        _gzipChannel.Dispose();
    }

    public Task RunAsync(string caseName)
    {
        _deadline = DateTime.UtcNow + CaseTimeout;
        return caseName switch
        {
            "empty_unary" => EmptyUnaryAsync(),
            "large_unary" => LargeUnaryAsync(),
            "client_streaming" => ClientStreamingAsync(),
            "server_streaming" => ServerStreamingAsync(),
            "ping_pong" => PingPongAsync(),
            "empty_stream" => EmptyStreamAsync(),
            "cancel_after_begin" => CancelAfterBeginAsync(),
            "cancel_after_first_response" => CancelAfterFirstResponseAsync(),
            "timeout_on_sleeping_server" => TimeoutOnSleepingServerAsync(),
            "status_code_and_message" => StatusCodeAndMessageAsync(),
            "special_status_message" => SpecialStatusMessageAsync(),
            "custom_metadata" => CustomMetadataAsync(),
            "unimplemented_method" => ExpectUnimplementedAsync(TestServiceMethods.UnimplementedCall),
            "unimplemented_service" => ExpectUnimplementedAsync(TestServiceMethods.UnimplementedServiceCall),
            "compressed_unary" => CompressedUnaryAsync(),
            "health" => HealthAsync(),
            _ => throw new ArgumentOutOfRangeException(nameof(caseName), caseName, "Unknown interop case."),
        };
    }

    private CallOptions Options(Metadata? headers = null, CancellationToken cancellationToken = default) =>
        new(Headers: headers, Deadline: _deadline, CancellationToken: cancellationToken);

    private async Task EmptyUnaryAsync()
    {
        using var call = _invoker.AsyncUnaryCall(TestServiceMethods.EmptyCall, Options(), new Empty());
        var response = await call.ResponseAsync;
        response.Should().NotBeNull();
        response.CalculateSize().Should().Be(0, "an Empty response is a zero-length message");
    }

    private async Task LargeUnaryAsync()
    {
        using var call = _invoker.AsyncUnaryCall(TestServiceMethods.UnaryCall, Options(), LargeRequest());
        AssertZeros((await call.ResponseAsync).Payload, 314159);
    }

    private async Task ClientStreamingAsync()
    {
        using var call = _invoker.AsyncClientStreamingCall(TestServiceMethods.StreamingInputCall, Options());
        foreach (var size in s_requestSizes)
        {
            await call.RequestStream.WriteAsync(new StreamingInputCallRequest { Payload = Zeros(size) });
        }

        await call.RequestStream.CompleteAsync();
        (await call.ResponseAsync).AggregatedPayloadSize.Should().Be(74922);
    }

    private async Task ServerStreamingAsync()
    {
        var request = new StreamingOutputCallRequest { ResponseType = PayloadType.Compressable };
        request.ResponseParameters.Add(s_responseSizes.Select(size => new ResponseParameters { Size = size }));
        using var call = _invoker.AsyncServerStreamingCall(TestServiceMethods.StreamingOutputCall, Options(), request);
        var sizes = new List<int>();
        while (await call.ResponseStream.MoveNext())
        {
            sizes.Count.Should().BeLessThan(s_responseSizes.Length, "the server must send exactly one response per response_parameters entry");
            AssertZeros(call.ResponseStream.Current.Payload, s_responseSizes[sizes.Count]);
            sizes.Add(call.ResponseStream.Current.Payload.Body.Length);
        }

        sizes.Should().Equal(s_responseSizes);
        call.GetStatus().StatusCode.Should().Be(StatusCode.OK);
    }

    private async Task PingPongAsync()
    {
        using var call = _invoker.AsyncDuplexStreamingCall(TestServiceMethods.FullDuplexCall, Options());
        for (var i = 0; i < s_requestSizes.Length; i++)
        {
            // Lockstep: the next request goes only after the response to this one has arrived.
            await call.RequestStream.WriteAsync(StreamingRequest(s_requestSizes[i], s_responseSizes[i]));
            (await call.ResponseStream.MoveNext()).Should().BeTrue("response {0} must arrive before the client half-closes", i);
            AssertZeros(call.ResponseStream.Current.Payload, s_responseSizes[i]);
        }

        await call.RequestStream.CompleteAsync();
        (await call.ResponseStream.MoveNext()).Should().BeFalse("no response may follow the half-close");
        call.GetStatus().StatusCode.Should().Be(StatusCode.OK);
    }

    private async Task EmptyStreamAsync()
    {
        using var call = _invoker.AsyncDuplexStreamingCall(TestServiceMethods.FullDuplexCall, Options());
        await call.RequestStream.CompleteAsync();
        (await call.ResponseStream.MoveNext()).Should().BeFalse("an empty request stream gets no responses");
        call.GetStatus().StatusCode.Should().Be(StatusCode.OK);
    }

    private async Task CancelAfterBeginAsync()
    {
        using var cts = new CancellationTokenSource();
        using var call = _invoker.AsyncClientStreamingCall(TestServiceMethods.StreamingInputCall, Options(cancellationToken: cts.Token));
        await cts.CancelAsync();
        await ExpectStatusAsync(() => call.ResponseAsync, StatusCode.Cancelled);
    }

    private async Task CancelAfterFirstResponseAsync()
    {
        using var cts = new CancellationTokenSource();
        using var call = _invoker.AsyncDuplexStreamingCall(TestServiceMethods.FullDuplexCall, Options(cancellationToken: cts.Token));
        await call.RequestStream.WriteAsync(StreamingRequest(27182, 31415));
        (await call.ResponseStream.MoveNext()).Should().BeTrue();
        AssertZeros(call.ResponseStream.Current.Payload, 31415);
        await cts.CancelAsync();
        await ExpectStatusAsync(() => call.ResponseStream.MoveNext(), StatusCode.Cancelled);
    }

    private async Task TimeoutOnSleepingServerAsync()
    {
        using var call = _invoker.AsyncDuplexStreamingCall(TestServiceMethods.FullDuplexCall,
            new CallOptions(Deadline: DateTime.UtcNow.AddMilliseconds(1)));
        try
        {
            await call.RequestStream.WriteAsync(new StreamingOutputCallRequest { Payload = Zeros(27182) });
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.DeadlineExceeded)
        {
            // The spec allows it: a 1 ms deadline may pass while the request is still being sent.
        }

        await ExpectStatusAsync(() => call.ResponseStream.MoveNext(), StatusCode.DeadlineExceeded);
    }

    private async Task StatusCodeAndMessageAsync()
    {
        const string message = "test status message";
        using (var unary = _invoker.AsyncUnaryCall(TestServiceMethods.UnaryCall, Options(),
            new SimpleRequest { ResponseStatus = new EchoStatus { Code = 2, Message = message } }))
        {
            await ExpectStatusAsync(() => unary.ResponseAsync, StatusCode.Unknown, message);
        }

        using var duplex = _invoker.AsyncDuplexStreamingCall(TestServiceMethods.FullDuplexCall, Options());
        try
        {
            await duplex.RequestStream.WriteAsync(new StreamingOutputCallRequest { ResponseStatus = new EchoStatus { Code = 2, Message = message } });
            await duplex.RequestStream.CompleteAsync();
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Unknown && ex.Status.Detail == message)
        {
            // The server ends the call as soon as it reads the request. A write whose flush races that end reports the
            // call's status, as grpc-dotnet's does; the response stream must report the same.
        }

        await ExpectStatusAsync(() => duplex.ResponseStream.MoveNext(), StatusCode.Unknown, message);
    }

    private async Task SpecialStatusMessageAsync()
    {
        using var call = _invoker.AsyncUnaryCall(TestServiceMethods.UnaryCall, Options(),
            new SimpleRequest { ResponseStatus = new EchoStatus { Code = 2, Message = SpecialMessage } });
        await ExpectStatusAsync(() => call.ResponseAsync, StatusCode.Unknown, SpecialMessage);
    }

    private async Task CustomMetadataAsync()
    {
        var headers = new Metadata
        {
            { TestServiceImpl.EchoInitialKey, EchoInitialValue },
            { TestServiceImpl.EchoTrailingKey, s_echoTrailingValue },
        };

        using (var unary = _invoker.AsyncUnaryCall(TestServiceMethods.UnaryCall, Options(headers), LargeRequest()))
        {
            AssertZeros((await unary.ResponseAsync).Payload, 314159);
            AssertEchoed(await unary.ResponseHeadersAsync, unary.GetTrailers(), "UnaryCall");
        }

        using var duplex = _invoker.AsyncDuplexStreamingCall(TestServiceMethods.FullDuplexCall, Options(headers));
        await duplex.RequestStream.WriteAsync(StreamingRequest(271828, 314159));
        await duplex.RequestStream.CompleteAsync();
        (await duplex.ResponseStream.MoveNext()).Should().BeTrue();
        AssertZeros(duplex.ResponseStream.Current.Payload, 314159);
        (await duplex.ResponseStream.MoveNext()).Should().BeFalse();
        duplex.GetStatus().StatusCode.Should().Be(StatusCode.OK);
        AssertEchoed(await duplex.ResponseHeadersAsync, duplex.GetTrailers(), "FullDuplexCall");
    }

    private async Task ExpectUnimplementedAsync(Method<Empty, Empty> method)
    {
        using var call = _invoker.AsyncUnaryCall(method, Options(), new Empty());
        await ExpectStatusAsync(() => call.ResponseAsync, StatusCode.Unimplemented);
    }

    /// <summary>client_compressed_unary: a probe, then a gzip-compressed and a plain request.</summary>
    private async Task CompressedUnaryAsync()
    {
        static SimpleRequest Request(bool expectCompressed)
        {
            var request = LargeRequest();
            request.ExpectCompressed = new BoolValue { Value = expectCompressed };
            return request;
        }

        // 1. Probe: a plain request that claims to be compressed must be refused by a server that can tell.
        using (var probe = _invoker.AsyncUnaryCall(TestServiceMethods.UnaryCall, Options(), Request(expectCompressed: true)))
        {
            if (_serverChecksCompression)
            {
                await ExpectStatusAsync(() => probe.ResponseAsync, StatusCode.InvalidArgument);
            }
            else
            {
                try
                {
                    await probe.ResponseAsync;
                }
                catch (RpcException ex)
                {
                    ex.StatusCode.Should().Be(StatusCode.InvalidArgument, "the probe may only fail with INVALID_ARGUMENT ({0})", ex.Status.Detail);
                }
            }
        }

        // 2. A gzip-compressed request.
        using (var compressed = _gzipChannel.CreateCallInvoker().AsyncUnaryCall(TestServiceMethods.UnaryCall, Options(), Request(expectCompressed: true)))
        {
            AssertZeros((await compressed.ResponseAsync).Payload, 314159);
        }

        // 3. A plain request.
        using var plain = _invoker.AsyncUnaryCall(TestServiceMethods.UnaryCall, Options(), Request(expectCompressed: false));
        AssertZeros((await plain.ResponseAsync).Payload, 314159);
    }

    /// <summary>What the peers' <c>health</c> case checks: Check, NOT_FOUND for an unknown service, Watch.</summary>
    private async Task HealthAsync()
    {
        using (var check = _invoker.AsyncUnaryCall(s_healthCheck, Options(), new HealthCheckRequest { Service = string.Empty }))
        {
            (await check.ResponseAsync).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
        }

        using (var check = _invoker.AsyncUnaryCall(s_healthCheck, Options(), new HealthCheckRequest { Service = TestServiceMethods.ServiceName }))
        {
            (await check.ResponseAsync).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
        }

        using (var unknown = _invoker.AsyncUnaryCall(s_healthCheck, Options(), new HealthCheckRequest { Service = "no.such.Service" }))
        {
            await ExpectStatusAsync(() => unknown.ResponseAsync, StatusCode.NotFound);
        }

        // Watch stays open after its first message; disposing the call cancels it.
        using var watch = _invoker.AsyncServerStreamingCall(s_healthWatch, Options(), new HealthCheckRequest { Service = string.Empty });
        (await watch.ResponseStream.MoveNext()).Should().BeTrue("Watch must send the current status at once");
        watch.ResponseStream.Current.Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
    }

    private static async Task ExpectStatusAsync(Func<Task> action, StatusCode code, string? message = null)
    {
        ExceptionAssertions<RpcException> thrown = await action.Should().ThrowAsync<RpcException>();
        thrown.Which.StatusCode.Should().Be(code, "the call must end with {0} (detail: {1})", code, thrown.Which.Status.Detail);
        if (message is not null)
        {
            thrown.Which.Status.Detail.Should().Be(message);
        }
    }

    private static void AssertEchoed(Metadata initial, Metadata trailers, string what)
    {
        initial.GetAll(TestServiceImpl.EchoInitialKey).Select(e => e.Value).Should()
            .Equal([EchoInitialValue], "{0} must echo {1} in its initial metadata", what, TestServiceImpl.EchoInitialKey);
        trailers.GetAll(TestServiceImpl.EchoTrailingKey).Should().ContainSingle("{0} must echo {1} in its trailers", what, TestServiceImpl.EchoTrailingKey)
            .Which.ValueBytes.Should().Equal(s_echoTrailingValue);
    }

    private static void AssertZeros(Payload? payload, int size)
    {
        payload.Should().NotBeNull();
        payload!.Type.Should().Be(PayloadType.Compressable);
        payload.Body.Length.Should().Be(size);
        payload.Body.Span.IndexOfAnyExcept((byte)0).Should().Be(-1, "payload bodies are all zeros");
    }

    private static Payload Zeros(int size) =>
        new() { Type = PayloadType.Compressable, Body = UnsafeByteOperations.UnsafeWrap(new byte[size]) };

    private static SimpleRequest LargeRequest() =>
        new() { ResponseType = PayloadType.Compressable, ResponseSize = 314159, Payload = Zeros(271828) };

    private static StreamingOutputCallRequest StreamingRequest(int requestSize, int responseSize)
    {
        var request = new StreamingOutputCallRequest { ResponseType = PayloadType.Compressable, Payload = Zeros(requestSize) };
        request.ResponseParameters.Add(new ResponseParameters { Size = responseSize });
        return request;
    }
}
