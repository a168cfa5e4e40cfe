using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Relay.Broker.Queries.Sessions;
using Pb = Relay.Protocol.V1;

namespace Relay.Broker.Watch.Timeline;

internal sealed partial class TimelineMapper
{
    /// <summary>
    /// The payload message. AgentLink stores the relay.v1 message an entry shows (Reply, Prompt, Approval, Launch,
    /// Session, Machine) even under the kinds of agents' reports; rows that hold the agent's own message instead
    /// (SessionReply, PromptReceipt, PermissionRequest, ...) are read as that and completed from the current rows.
    /// </summary>
    private static IMessage? ParsePayload(TimelineRow row) => row.Kind switch
    {
        "hook" => ProtoJson.TryParse<Pb.HookEvent>(row.Payload),
        "reply" => (IMessage?)WithId(ProtoJson.TryParse<Pb.Reply>(row.Payload), r => r.SessionId) ?? ProtoJson.TryParse<Pb.SessionReply>(row.Payload),
        "prompt_receipt" => (IMessage?)WithId(ProtoJson.TryParse<Pb.Prompt>(row.Payload), p => p.SessionId) ?? ProtoJson.TryParse<Pb.PromptReceipt>(row.Payload),
        "permission_request" => (IMessage?)WithId(ProtoJson.TryParse<Pb.Approval>(row.Payload), a => a.SessionId) ?? ProtoJson.TryParse<Pb.PermissionRequest>(row.Payload),
        "permission_closed" => (IMessage?)WithId(ProtoJson.TryParse<Pb.Approval>(row.Payload), a => a.SessionId) ?? ProtoJson.TryParse<Pb.PermissionClosed>(row.Payload),
        "launch_result" => (IMessage?)WithId(ProtoJson.TryParse<Pb.Launch>(row.Payload), l => l.MachineId) ?? ProtoJson.TryParse<Pb.LaunchResult>(row.Payload),
        "prompt_created" or "prompt_updated" => ProtoJson.TryParse<Pb.Prompt>(row.Payload),
        "approval_requested" or "approval_resolved" => ProtoJson.TryParse<Pb.Approval>(row.Payload),
        "launch_updated" => ProtoJson.TryParse<Pb.Launch>(row.Payload),
        "machine_connected" or "machine_disconnected" or "machine_updated" or "agent_connected" or "agent_disconnected" or "stream_replaced" or "events_dropped" =>
            WithId(ProtoJson.TryParse<Pb.Machine>(row.Payload), m => m.MachineId),
        "session_started" or "session_updated" or "segment_started" or "session_ended" or "channel_attached" or "channel_detached" =>
            WithId(ProtoJson.TryParse<Pb.Session>(row.Payload), s => s.SessionId),
        _ => null,
    };

    /// <summary>A payload that parsed but is not the message (an agent's own message under a shared kind name) is ignored.</summary>
    private static T? WithId<T>(T? message, Func<T, string> id)
        where T : class => message is not null && id(message).Length > 0 ? message : null;

    private static bool NeedsSession(string kind, IMessage? payload) =>
        payload is not (Pb.Prompt or Pb.Reply or Pb.Approval or Pb.Session or Pb.Launch or Pb.Machine or Pb.HookEvent or Pb.PromptReceipt or Pb.PermissionClosed or Pb.LaunchResult)
        && kind is not ("agent_connected" or "agent_disconnected" or "stream_replaced" or "events_dropped");

    private static void Fill(Pb.Event e, TimelineRow row, IMessage? payload, Lookups lookups)
    {
        var session = row.SessionId is { } sid ? lookups.Sessions.GetValueOrDefault(sid) : null;
        switch (payload)
        {
            case Pb.HookEvent hook:
                e.Hook = Hook(hook, row);
                return;
            case Pb.SessionReply reply:
                e.Reply = Reply(reply, row, session);
                return;
            case Pb.PromptReceipt receipt when Guid.TryParse(receipt.PromptId, out var promptId) && lookups.Prompts.TryGetValue(promptId, out var prompt):
                e.Prompt = prompt.Clone();
                if (receipt.Status != Pb.PromptStatus.Unspecified)
                {
                    e.Prompt.Status = receipt.Status; // the state after this change, not the prompt's latest
                }

                return;
            case Pb.PermissionRequest request:
                e.Approval = Approval(request, row, session);
                return;
            case Pb.PermissionClosed closed when Guid.TryParse(closed.ApprovalId, out var approvalId) && lookups.Approvals.TryGetValue(approvalId, out var approval):
                e.Approval = approval;
                return;
            case Pb.LaunchResult result when Guid.TryParse(result.LaunchId, out var launchId) && lookups.Launches.TryGetValue(launchId, out var launch):
                e.Launch = launch;
                return;
            case Pb.Reply r:
                e.Reply = r;
                return;
            case Pb.Prompt p:
                e.Prompt = p;
                return;
            case Pb.Approval a:
                e.Approval = a;
                return;
            case Pb.Session s:
                e.Session = s;
                return;
            case Pb.Launch l:
                e.Launch = l;
                return;
            case Pb.Machine m:
                e.Machine = m;
                return;
        }

        if (e.Kind is Pb.EventKind.MachineConnected or Pb.EventKind.MachineDisconnected or Pb.EventKind.MachineUpdated)
        {
            if (lookups.Machines.TryGetValue(row.MachineId, out var machine))
            {
                e.Machine = machine;
            }
        }
        else if (e.Kind == Pb.EventKind.Hook)
        {
            e.Hook = Hook(new Pb.HookEvent(), row);
        }
        else if (session is not null && e.Kind is Pb.EventKind.SessionStarted or Pb.EventKind.SessionUpdated or Pb.EventKind.SegmentStarted
                     or Pb.EventKind.SessionEnded or Pb.EventKind.ChannelAttached or Pb.EventKind.ChannelDetached)
        {
            e.Session = SessionMapper.ToProto(session);
        }
    }

    /// <summary>
    /// A hook row normally holds the agent's HookEvent; one that holds Claude Code's raw hook JSON instead is shown as
    /// that raw JSON, so history never loses what the hook said.
    /// </summary>
    private static Pb.HookEvent Hook(Pb.HookEvent hook, TimelineRow row)
    {
        if (hook.RawJson.Length == 0 && hook.EventId.Length == 0)
        {
            hook = new Pb.HookEvent { HookEventName = hook.HookEventName, RawJson = row.Payload };
        }

        if (hook.EventId.Length == 0)
        {
            hook.EventId = row.EventId.ToString("D");
        }

        hook.OccurredAt ??= Timestamp.FromDateTimeOffset(row.OccurredAt);
        if (hook.Session is null && row.ClaudeSessionId is { } claude)
        {
            hook.Session = new Pb.SessionEvidence { ClaudeSessionId = claude.ToString("D"), SessionId = row.SessionId?.ToString("D") ?? "" };
        }

        return hook;
    }

    private static Pb.Reply Reply(Pb.SessionReply reply, TimelineRow row, SessionRow? session) => new()
    {
        ReplyId = reply.ReplyId,
        SessionId = row.SessionId?.ToString("D") ?? "",
        SessionName = session?.Name ?? "",
        MachineId = row.MachineId.ToString("D"),
        ClaudeSessionId = reply.Session?.ClaudeSessionId is { Length: > 0 } c ? c : row.ClaudeSessionId?.ToString("D") ?? "",
        InReplyTo = reply.InReplyTo,
        Text = reply.Text,
        Source = reply.Source,
        CreatedAt = reply.CreatedAt ?? Timestamp.FromDateTimeOffset(row.OccurredAt),
        RecordedAt = Timestamp.FromDateTimeOffset(row.ReceivedAt),
    };

    private static Pb.Approval Approval(Pb.PermissionRequest request, TimelineRow row, SessionRow? session) => new()
    {
        ApprovalId = request.ApprovalId,
        SessionId = row.SessionId?.ToString("D") ?? "",
        SessionName = session?.Name ?? "",
        MachineId = row.MachineId.ToString("D"),
        MachineName = session?.MachineName ?? "",
        Origin = request.Origin,
        ClaudeRequestId = request.ClaudeRequestId,
        ToolName = request.ToolName,
        Description = request.Description,
        InputPreview = request.InputPreview,
        ToolInputJson = request.ToolInputJson,
        Status = Pb.ApprovalStatus.Pending,
        RequestedAt = request.RequestedAt ?? Timestamp.FromDateTimeOffset(row.OccurredAt),
        ExpiresAt = request.ExpiresAt,
    };
}
