using Google.Protobuf.WellKnownTypes;
using Relay.Broker.Approvals;
using Relay.Broker.Launches;
using Relay.Broker.Prompts;
using Relay.Broker.Queries.Sessions;
using Pb = Relay.Protocol.V1;

namespace Relay.Broker.Watch.Timeline;

/// <summary>
/// Turns event log rows into relay.v1 Events. Broker-originated rows carry their payload message as protobuf JSON;
/// agents' reports carry the AgentLink message they arrived as (HookEvent, SessionReply, PermissionRequest, ...), and
/// the rest (receipts, channel and machine events) is filled from the current rows they refer to, loaded per batch.
/// </summary>
internal sealed partial class TimelineMapper(
    SessionReader sessions,
    PromptReader prompts,
    ApprovalReader approvals,
    LaunchReader launches,
    MachineReader machines)
{
    /// <summary>The rows as events, in the same order; rows of internal kinds are left out.</summary>
    public async Task<List<Pb.Event>> MapAsync(IReadOnlyList<TimelineRow> rows, bool omitRawJson, CancellationToken cancellationToken)
    {
        var parsed = rows
            .Select(row => (Row: row, Kind: TimelineKinds.ToProto(row.Kind)))
            .Where(x => x.Kind is not null)
            .Select(x => (x.Row, Kind: x.Kind!.Value, Payload: ParsePayload(x.Row)))
            .ToList();

        var lookups = await LoadLookupsAsync(parsed.Select(p => (p.Row, p.Kind, p.Payload)).ToList(), cancellationToken);
        var events = new List<Pb.Event>(parsed.Count);
        foreach (var (row, kind, payload) in parsed)
        {
            var e = new Pb.Event
            {
                Cursor = EventCursor.Format(row.Id),
                EventId = row.EventId.ToString("D"),
                Kind = kind,
                OccurredAt = Timestamp.FromDateTimeOffset(row.OccurredAt),
                RecordedAt = Timestamp.FromDateTimeOffset(row.ReceivedAt),
                MachineId = row.MachineId.ToString("D"),
                SessionId = row.SessionId?.ToString("D") ?? "",
            };
            Fill(e, row, payload, lookups);
            if (omitRawJson)
            {
                OmitRawJson(e);
            }

            events.Add(e);
        }

        return events;
    }

    /// <summary>Clears the raw hook JSON, for watchers and readers that asked for small events.</summary>
    public static Pb.Event OmitRawJson(Pb.Event e)
    {
        if (e.Hook is { } hook && (hook.RawJson.Length > 0 || hook.ResponseJson.Length > 0))
        {
            e.Hook = hook.Clone();
            e.Hook.RawJson = "";
            e.Hook.ResponseJson = "";
        }

        return e;
    }

    private async Task<Lookups> LoadLookupsAsync(List<(TimelineRow Row, Pb.EventKind Kind, Google.Protobuf.IMessage? Payload)> items, CancellationToken cancellationToken)
    {
        var sessionIds = items.Where(i => i.Row.SessionId is not null && NeedsSession(i.Row.Kind, i.Payload)).Select(i => i.Row.SessionId!.Value).ToHashSet();
        var promptIds = items.Select(i => i.Payload).OfType<Pb.PromptReceipt>().Select(r => Guid.TryParse(r.PromptId, out var g) ? g : Guid.Empty).Where(g => g != Guid.Empty).ToHashSet();
        var approvalIds = items.Select(i => i.Payload).OfType<Pb.PermissionClosed>().Select(r => Guid.TryParse(r.ApprovalId, out var g) ? g : Guid.Empty).Where(g => g != Guid.Empty).ToHashSet();
        var launchIds = items.Select(i => i.Payload).OfType<Pb.LaunchResult>().Select(r => Guid.TryParse(r.LaunchId, out var g) ? g : Guid.Empty).Where(g => g != Guid.Empty).ToHashSet();
        var machineIds = items.Where(i => i.Kind is Pb.EventKind.MachineConnected or Pb.EventKind.MachineDisconnected or Pb.EventKind.MachineUpdated && i.Payload is not Pb.Machine)
            .Select(i => i.Row.MachineId).ToHashSet();

        return new Lookups(
            await sessions.GetManyAsync(sessionIds, cancellationToken),
            await prompts.GetManyAsync(promptIds, cancellationToken),
            await approvals.GetManyAsync(approvalIds, cancellationToken),
            await launches.GetManyAsync(launchIds, cancellationToken),
            await machines.GetManyAsync(machineIds, cancellationToken));
    }

    private sealed record Lookups(
        Dictionary<Guid, SessionRow> Sessions,
        Dictionary<Guid, Pb.Prompt> Prompts,
        Dictionary<Guid, Pb.Approval> Approvals,
        Dictionary<Guid, Pb.Launch> Launches,
        Dictionary<Guid, Pb.Machine> Machines);
}
