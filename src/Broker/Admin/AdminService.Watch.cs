using Relay.Broker.Access;
using Relay.Broker.Validation;
using Relay.Broker.Watch;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.Admin;

// Watch: live events, resumable from a cursor (src/Broker/Watch).
internal sealed partial class AdminService
{
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
                await responseStream.WriteAsync(item, watch.WriteToken);
            }
        }
        catch (OperationCanceledException) when (watch.IsOverflowed && !context.CancellationToken.IsCancellationRequested)
        {
            // The write was stuck behind a reader that stopped reading while its buffer overflowed.
            throw Relay.Broker.Watch.WatchStream.Overflow(watch.Position, watch.Capacity);
        }
        catch (OperationCanceledException) when (caller.Revoked.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            throw RpcErrors.Unauthenticated("The token was revoked; this watch has ended.");
        }
    }
}
