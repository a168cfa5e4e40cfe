using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http.Features;
using Relay.Grpc.Tests.Infrastructure;
using Relay.Grpc.Tests.Proto;

namespace Relay.Grpc.Tests.InProcess;

/// <summary>How the client maps an HTTP/2 stream reset it receives before any status.</summary>
public sealed class TransportErrorTests
{
    private static readonly Method<TestRequest, TestReply> s_reset = new(MethodType.ServerStreaming, "odd.Service", "Reset",
        Marshallers.Protobuf(TestRequest.Parser), Marshallers.Protobuf(TestReply.Parser));

    /// <summary>A server that sends response headers, waits for the test, then resets the stream with the request's code.</summary>
    private static Task<TestServer> StartResettingServerAsync(Task resetNow) => TestServer.StartAsync(o => o.ConfigureEndpoints = e =>
        e.MapPost("/odd.Service/Reset", async context =>
        {
            context.Response.ContentType = "application/grpc";
            await context.Response.StartAsync();
            await context.Response.Body.FlushAsync();
            await resetNow.WaitAsync(context.RequestAborted);
            var code = int.Parse(context.Request.Headers["reset-code"].ToString(), System.Globalization.CultureInfo.InvariantCulture);
            context.Features.GetRequiredFeature<IHttpResetFeature>().Reset(code);
        }));

    [Theory]
    [InlineData(0x2, StatusCode.Internal)]
    [InlineData(0x7, StatusCode.Unavailable)]
    [InlineData(0x8, StatusCode.Cancelled)]
    [InlineData(0xb, StatusCode.ResourceExhausted)]
    [InlineData(0xc, StatusCode.PermissionDenied)]
    public async Task ServerStreaming_ServerResetsStream_MappedFromTheHttp2ErrorCode(int code, StatusCode expected)
    {
        var resetNow = Waits.NewSignal();
        await using var server = await StartResettingServerAsync(resetNow.Task);
        using var channel = server.CreateChannel();

        using var call = channel.CreateCallInvoker().AsyncServerStreamingCall(s_reset,
            new CallOptions(Headers: new Metadata { { "reset-code", code.ToString(System.Globalization.CultureInfo.InvariantCulture) } }), new TestRequest());
        await call.ResponseHeadersAsync.Bounded();
        resetNow.SetResult();

        (await call.ResponseStream.Awaiting(s => s.MoveNext().Bounded()).Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(expected);
    }

    [Theory]
    [InlineData(false, StatusCode.Cancelled)]
    [InlineData(true, StatusCode.DeadlineExceeded)]
    public async Task ServerStreaming_ServerCancelsStream_DeadlineExceededOnlyOnceTheDeadlineHasPassed(bool deadlinePassed, StatusCode expected)
    {
        var resetNow = Waits.NewSignal();
        await using var server = await StartResettingServerAsync(resetNow.Task);
        // The channel's clock is the test's, and its timers never fire: only the clock says whether the
        // deadline has passed when the server's RST_STREAM(CANCEL) arrives.
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        using var channel = server.CreateChannel(new GrpcChannelOptions { TimeProvider = clock });

        using var call = channel.CreateCallInvoker().AsyncServerStreamingCall(s_reset,
            new CallOptions(Headers: new Metadata { { "reset-code", "8" } }, Deadline: clock.GetUtcNow().UtcDateTime.AddMinutes(1)), new TestRequest());
        await call.ResponseHeadersAsync.Bounded();
        if (deadlinePassed)
        {
            clock.Advance(TimeSpan.FromMinutes(2));
        }

        resetNow.SetResult();

        (await call.ResponseStream.Awaiting(s => s.MoveNext().Bounded()).Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(expected);
    }
}
