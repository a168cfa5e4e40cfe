using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Relay.Broker.Validation;
using Relay.Protocol.V1;

namespace Relay.Broker.Audit;

internal sealed partial class AuditLog
{
    /// <summary>ListAuditEvents: newest first, filters combined with AND, keyset-paged by entry id.</summary>
    public async Task<ListAuditEventsResponse> ListAsync(ListAuditEventsRequest request, CancellationToken cancellationToken = default)
    {
        var pageSize = PageToken.Size(request.PageSize);
        long? before = null;
        if (PageToken.Decode(request.PageToken) is { } position)
        {
            before = long.TryParse(position, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id)
                ? id
                : throw RpcErrors.InvalidArgument("page_token is not a token from a previous response; omit it to start at the first page.");
        }

        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        var query = db.AuditLog.AsNoTracking();
        if (before is { } last)
        {
            query = query.Where(a => a.Id < last);
        }

        if (Require.OptionalName(request.ActorId, "actor_id") is { } actorId)
        {
            string[] actors = ["token:" + actorId, "machine:" + actorId, "session:" + actorId, actorId];
            query = query.Where(a => actors.Contains(a.Actor));
        }

        if (Require.OptionalName(request.ActionPrefix, "action_prefix") is { } prefix)
        {
            query = query.Where(a => a.Action.StartsWith(prefix));
        }

        if (Require.OptionalName(request.TargetId, "target_id") is { } targetId)
        {
            var suffix = ":" + targetId;
            query = query.Where(a => a.Target != null && a.Target.EndsWith(suffix));
        }

        if (Require.OptionalName(request.SessionId, "session_id") is { } sessionId)
        {
            var contained = new JsonObject { ["session_id"] = sessionId }.ToJsonString();
            query = query.Where(a => a.Details != null && EF.Functions.JsonContains(a.Details, contained));
        }

        if (Require.OptionalName(request.Machine, "machine") is { } machine)
        {
            var machineId = Guid.TryParse(machine, out var parsed)
                ? parsed.ToString()
                : (await db.Machines.AsNoTracking().Where(m => m.Name == machine).Select(m => (Guid?)m.Id).FirstOrDefaultAsync(cancellationToken))?.ToString()
                  ?? throw RpcErrors.NotFound($"No machine is named '{Require.Shorten(machine)}' (relayctl machines list shows them).");
            var contained = new JsonObject { ["machine_id"] = machineId }.ToJsonString();
            query = query.Where(a => a.Details != null && EF.Functions.JsonContains(a.Details, contained));
        }

        if (Require.OptionalTimestamp(request.Since, "since") is { } from)
        {
            query = query.Where(a => a.At >= from);
        }

        if (Require.OptionalTimestamp(request.Until, "until") is { } to)
        {
            query = query.Where(a => a.At < to);
        }

        var rows = await query.OrderByDescending(a => a.Id).Take(pageSize + 1).ToListAsync(cancellationToken);
        var response = new ListAuditEventsResponse();
        response.Events.AddRange(rows.Take(pageSize).Select(ToEvent));
        if (rows.Count > pageSize)
        {
            response.NextPageToken = PageToken.Encode(rows[pageSize - 1].Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return response;
    }
}
