using Microsoft.Extensions.Options;
using Relay.Broker.Queries.Selectors;
using Relay.Broker.Watch.Timeline;
using Relay.Protocol.V1;

namespace Relay.Broker.Queries.History;

/// <summary>
/// GetSessionHistory: one session's entries of the event log, paged in either direction. The first page pins the log's
/// head; later pages never go past it, so entries recorded meanwhile never shift pages — Watch from head_cursor
/// returns exactly those.
/// </summary>
internal sealed class HistoryQuery(
    SessionSelectorResolver resolver,
    TimelineReader reader,
    TimelineMapper mapper,
    IOptions<QueriesOptions> options)
{
    public async Task<GetSessionHistoryResponse> GetAsync(GetSessionHistoryRequest request, CancellationToken cancellationToken)
    {
        var pageSize = RequestValidation.PageSize(request.PageSize, options.Value.DefaultPageSize, options.Value.MaxPageSize);
        var kinds = TimelineKinds.Validate(request.Kinds, TimelineKinds.SessionKinds, "kinds");
        long? after = request.AfterCursor.Length > 0 ? EventCursor.Parse(request.AfterCursor, "after_cursor") : null;
        long? before = request.BeforeCursor.Length > 0 ? EventCursor.Parse(request.BeforeCursor, "before_cursor") : null;
        var session = await resolver.ResolveAsync(request.Session, "session", cancellationToken);

        var fingerprint = PageTokens.Fingerprint(session.Id, kinds.Order(), after, before, request.NewestFirst);
        var position = PageTokens.Decode<Position>(request.PageToken, fingerprint, p => p.F);
        var head = position?.H ?? await reader.HeadAsync(cancellationToken);

        // The window (lower, upper]: the request's cursors, the pinned head, and how far earlier pages got.
        var lower = after ?? 0;
        var upper = Math.Min(head, before is { } b ? b - 1 : long.MaxValue);
        if (position is not null)
        {
            if (request.NewestFirst)
            {
                upper = Math.Min(upper, position.L - 1);
            }
            else
            {
                lower = Math.Max(lower, position.L);
            }
        }

        var response = new GetSessionHistoryResponse { HeadCursor = EventCursor.Format(head) };
        if (lower >= upper)
        {
            return response;
        }

        var filter = new TimelineFilter(TimelineKinds.Stored(kinds), session.Id);
        var rows = await reader.ReadAsync(filter, lower, upper, pageSize + 1, request.NewestFirst, cancellationToken);
        var page = rows.Take(pageSize).ToList();
        response.Events.AddRange(await mapper.MapAsync(page, request.OmitRawJson, cancellationToken));
        if (rows.Count > pageSize)
        {
            response.NextPageToken = PageTokens.Encode(new Position(head, page[^1].Id, fingerprint));
        }

        return response;
    }

    /// <summary>The pinned head, the last position returned, and the request's fingerprint.</summary>
    private sealed record Position(long H, long L, string F);
}
