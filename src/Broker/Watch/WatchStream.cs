using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Options;
using Relay.Broker.Queries;
using Relay.Broker.Queries.Selectors;
using Relay.Broker.Validation;
using Relay.Broker.Watch.Timeline;
using Relay.Protocol.V1;

namespace Relay.Broker.Watch;

/// <summary>
/// Opens Watch streams: checks the request up front (unknown session or machine, bad cursor, a cursor older than the
/// retention window), then hands back a <see cref="WatchSession"/> that replays from the database and continues live.
/// </summary>
internal sealed class WatchStream(
    SessionSelectorResolver sessions,
    MachineResolver machines,
    TimelineReader reader,
    TimelineMapper mapper,
    EventFeed feed,
    IOptions<WatchOptions> options,
    TimeProvider timeProvider,
    ILogger<WatchStream> logger)
{
    public async Task<WatchSession> OpenAsync(WatchRequest request, CancellationToken cancellationToken)
    {
        var kinds = TimelineKinds.Validate(request.Kinds, TimelineKinds.All, "kinds");
        var session = request.Session is null ? null : await sessions.ResolveAsync(request.Session, "session", cancellationToken);
        var machineIds = request.Machines.Count == 0
            ? null
            : (await machines.ResolveAllAsync(request.Machines, "machines", cancellationToken)).Select(m => m.Id).ToArray();

        long? start = request.StartCase switch
        {
            WatchRequest.StartOneofCase.AfterCursor => EventCursor.Parse(request.AfterCursor, "after_cursor"),
            WatchRequest.StartOneofCase.Since => await reader.PositionBeforeAsync(
                Require.OptionalTimestamp(request.Since, "since")!.Value, cancellationToken),
            _ => null,
        };
        if (request.StartCase == WatchRequest.StartOneofCase.AfterCursor)
        {
            await reader.EnsureResumableAsync(start!.Value, "after_cursor", cancellationToken);
        }

        var filter = new WatchFilter(session?.Id.ToString("D"), machineIds?.Select(m => m.ToString("D")).ToHashSet(), kinds.ToHashSet());
        var replay = new TimelineFilter(TimelineKinds.Stored(kinds), session?.Id, machineIds);
        return new WatchSession(new WatchPlan(filter, replay, start, request.OmitRawJson), reader, mapper, feed, options.Value, timeProvider, logger);
    }

    internal static WatchResponse Checkpoint(long position, bool caughtUp, TimeProvider time) => new()
    {
        Checkpoint = new WatchCheckpoint
        {
            Cursor = EventCursor.Format(position),
            ServerTime = Timestamp.FromDateTimeOffset(time.GetUtcNow()),
            CaughtUp = caughtUp,
        },
    };

    internal static Relay.Grpc.RpcException Overflow(long position, int capacity) => AdminErrors.ResourceExhausted(
        $"This watcher fell more than {capacity} events behind and was stopped; call Watch again with after_cursor set to " +
        $"the last cursor you received (or {EventCursor.Format(position)}, the last event sent) to continue without gap.");
}

/// <summary>What a watch does: live filter, replay filter, where to start (null = live from now), payload size.</summary>
internal sealed record WatchPlan(WatchFilter Live, TimelineFilter Replay, long? Start, bool OmitRawJson);
