using Google.Protobuf;
using Grpc.Testing;
using Relay.Grpc;

namespace Relay.Interop.Tests.Service;

/// <summary>
/// <c>grpc.testing.TestService</c> on Relay.Grpc, following grpc/grpc doc/interop-test-descriptions.md
/// ("Server" section): payloads of zeros of the requested sizes, Echo Status, Echo Metadata,
/// <c>interval_us</c> pauses and <c>expect_compressed</c>. <c>UnimplementedCall</c> is left unbound on
/// purpose: the unimplemented_method case needs the server to answer UNIMPLEMENTED for it.
/// Stateless: every call's state lives in its <see cref="ServerCallContext"/>.
/// </summary>
internal sealed class TestServiceImpl
{
    public const string EchoInitialKey = "x-grpc-test-echo-initial";
    public const string EchoTrailingKey = "x-grpc-test-echo-trailing-bin";

    public static void Bind(ServiceBinder<TestServiceImpl> binder)
    {
        ArgumentNullException.ThrowIfNull(binder);

        // test.proto also defines UnimplementedService, ReconnectService, ...; TestService is the first.
        binder.ServiceDescriptor = TestReflection.Descriptor.Services[0];
        binder.AddUnaryMethod(TestServiceMethods.EmptyCall, static (_, _, _) => Task.FromResult(new Empty()));
        binder.AddUnaryMethod(TestServiceMethods.UnaryCall, static (_, request, context) => UnaryCall(request, context));
        binder.AddServerStreamingMethod(TestServiceMethods.StreamingOutputCall,
            static (_, request, responses, context) => StreamingOutputCall(request, responses, context));
        binder.AddClientStreamingMethod(TestServiceMethods.StreamingInputCall,
            static (_, requests, context) => StreamingInputCall(requests, context));
        binder.AddDuplexStreamingMethod(TestServiceMethods.FullDuplexCall,
            static (_, requests, responses, context) => FullDuplexCall(requests, responses, context));
        binder.AddDuplexStreamingMethod(TestServiceMethods.HalfDuplexCall,
            static (_, requests, responses, context) => HalfDuplexCall(requests, responses, context));
    }

    private static async Task<SimpleResponse> UnaryCall(SimpleRequest request, ServerCallContext context)
    {
        await EchoMetadataAsync(context);
        CheckExpectCompressed(request.ExpectCompressed, context);
        EnsureEchoStatus(request.ResponseStatus);

        // response_compressed is not honoured: Relay.Grpc picks response compression per server, not per
        // call. No case run here asks for it (server_compressed_* are not part of this suite).
        return new SimpleResponse { Payload = CreatePayload(request.ResponseSize) };
    }

    private static async Task StreamingOutputCall(StreamingOutputCallRequest request, IServerStreamWriter<StreamingOutputCallResponse> responses, ServerCallContext context)
    {
        await EchoMetadataAsync(context);
        EnsureEchoStatus(request.ResponseStatus);
        await RespondAsync(request, responses, context);
    }

    private static async Task<StreamingInputCallResponse> StreamingInputCall(IAsyncStreamReader<StreamingInputCallRequest> requests, ServerCallContext context)
    {
        await EchoMetadataAsync(context);
        var total = 0;
        while (await requests.MoveNext(context.CancellationToken))
        {
            CheckExpectCompressed(requests.Current.ExpectCompressed, context);
            total += requests.Current.Payload?.Body.Length ?? 0;
        }

        return new StreamingInputCallResponse { AggregatedPayloadSize = total };
    }

    private static async Task FullDuplexCall(IAsyncStreamReader<StreamingOutputCallRequest> requests, IServerStreamWriter<StreamingOutputCallResponse> responses, ServerCallContext context)
    {
        await EchoMetadataAsync(context);

        // Lockstep: each request is answered as soon as it arrives (ping_pong depends on it).
        while (await requests.MoveNext(context.CancellationToken))
        {
            EnsureEchoStatus(requests.Current.ResponseStatus);
            await RespondAsync(requests.Current, responses, context);
        }
    }

    private static async Task HalfDuplexCall(IAsyncStreamReader<StreamingOutputCallRequest> requests, IServerStreamWriter<StreamingOutputCallResponse> responses, ServerCallContext context)
    {
        await EchoMetadataAsync(context);

        // Half duplex: read everything first, answer only after the client half-closes.
        var buffered = new List<StreamingOutputCallRequest>();
        while (await requests.MoveNext(context.CancellationToken))
        {
            EnsureEchoStatus(requests.Current.ResponseStatus);
            buffered.Add(requests.Current);
        }

        foreach (var request in buffered)
        {
            await RespondAsync(request, responses, context);
        }
    }

    private static async Task RespondAsync(StreamingOutputCallRequest request, IServerStreamWriter<StreamingOutputCallResponse> responses, ServerCallContext context)
    {
        foreach (var parameters in request.ResponseParameters)
        {
            if (parameters.IntervalUs > 0)
            {
                // The spec's server-side pause. The call's token ends it early when the client cancels
                // or the deadline passes, so a sleeping handler never outlives its call.
                await Task.Delay(TimeSpan.FromMicroseconds(parameters.IntervalUs), context.CancellationToken);
            }

            await responses.WriteAsync(new StreamingOutputCallResponse { Payload = CreatePayload(parameters.Size) }, context.CancellationToken);
        }
    }

    /// <summary>Echo Metadata: the initial key goes back as response headers, the -bin key as a trailer.</summary>
    private static async Task EchoMetadataAsync(ServerCallContext context)
    {
        var initial = new Metadata();
        foreach (var entry in context.RequestHeaders.GetAll(EchoInitialKey))
        {
            initial.Add(entry);
        }

        foreach (var entry in context.RequestHeaders.GetAll(EchoTrailingKey))
        {
            context.ResponseTrailers.Add(entry);
        }

        if (initial.Count > 0)
        {
            await context.WriteResponseHeadersAsync(initial);
        }
    }

    /// <summary>Echo Status: a request carrying a non-OK <c>response_status</c> ends the call with it.</summary>
    private static void EnsureEchoStatus(EchoStatus? status)
    {
        if (status is { Code: not 0 })
        {
            throw new RpcException(new Status((StatusCode)status.Code, status.Message));
        }
    }

    /// <summary>
    /// <c>expect_compressed</c>: a request that claims to be compressed must have been. The layer hides
    /// the per-message compressed flag from handlers (as grpc-core does), so the request's
    /// <c>grpc-encoding</c> stands in for it: an identity stream cannot carry a compressed message.
    /// </summary>
    private static void CheckExpectCompressed(BoolValue? expect, ServerCallContext context)
    {
        if (expect is not { Value: true })
        {
            return;
        }

        var encoding = context.GetHttpContext().Request.Headers["grpc-encoding"].ToString();
        if (encoding is "" or "identity")
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument,
                "Expected a compressed request, but the request stream is not compressed (grpc-encoding: identity)."));
        }
    }

    private static Payload CreatePayload(int size)
    {
        if (size < 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"Negative response size {size}."));
        }

        // A fresh array per response is never shared or mutated, so wrapping it without a copy is safe.
        return new Payload { Type = PayloadType.Compressable, Body = UnsafeByteOperations.UnsafeWrap(new byte[size]) };
    }
}
