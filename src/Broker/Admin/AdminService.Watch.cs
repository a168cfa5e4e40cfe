using Microsoft.AspNetCore.Http.Features;
using Relay.Broker.Access;
using Relay.Broker.Validation;
using Relay.Broker.Watch;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.Admin;

// Watch: live events, resumable from a cursor (src/Broker/Watch).
internal sealed partial class AdminService
{
    // HTTP/2 error codes (RFC 9113 §7); gRPC clients map ENHANCE_YOUR_CALM to RESOURCE_EXHAUSTED.
    private const int Http2Cancel = 0x8;
    private const int Http2EnhanceYourCalm = 0xb;

    public override async Task Watch(WatchRequest request, IServerStreamWriter<WatchResponse> responseStream, ServerCallContext context)
    {
        var caller = context.RequireRole(Role.Viewer);
        // A revoked token ends its watch at once, not at the next call.
        using var call = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, caller.Revoked);
        using var watch = await Get<WatchStream>().OpenAsync(request, call.Token);
        try
        {
            await foreach (var item in watch.ReadAllAsync(call.Token))
            {
                // The write takes the call's own token only; see WaitForWriteAsync.
                var write = responseStream.WriteAsync(item, context.CancellationToken);
                if (!await watch.WaitForWriteAsync(write, call.Token))
                {
                    var overflowed = watch.IsOverflowed;
                    ResetStream(context, overflowed ? Http2EnhanceYourCalm : Http2Cancel);
                    // The reset ends the write; the call must not return while it still touches the response.
                    await write.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    throw overflowed ? WatchStream.Overflow(watch.Position, watch.Capacity) : Revoked();
                }
            }
        }
        catch (OperationCanceledException) when (caller.Revoked.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            throw Revoked();
        }
    }

    private static RpcException Revoked() => RpcErrors.Unauthenticated("The token was revoked; this watch has ended.");

    private static void ResetStream(ServerCallContext context, int http2ErrorCode)
    {
        var http = context.GetHttpContext();
        if (http.Features.Get<IHttpResetFeature>() is { } reset)
        {
            reset.Reset(http2ErrorCode);
        }
        else
        {
            http.Abort();
        }
    }
}
