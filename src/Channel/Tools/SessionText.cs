using System.Globalization;
using System.Text;
using Google.Protobuf.WellKnownTypes;
using ModelContextProtocol.Protocol;
using Relay.Protocol.V1;

namespace Relay.Channel.Tools;

/// <summary>Turns session tool results into short text for Claude (one line per item, no protobuf noise).</summary>
internal static class SessionText
{
    public static string Sessions(ListSessionsToolResponse response)
    {
        if (response.Sessions.Count == 0)
        {
            return "No sessions you may reach match. (Relay's policy decides which sessions a session may see.)";
        }

        var text = new StringBuilder();
        foreach (var s in response.Sessions)
        {
            text.Append("- ").Append(string.IsNullOrEmpty(s.Name) ? "(unnamed)" : s.Name)
                .Append(" [id ").Append(s.SessionId).Append("] on ").Append(OrUnknown(s.MachineName))
                .Append(s.MachineOnline ? "" : " (machine offline)")
                .Append(": ").Append(Status(s.Status))
                .Append(s.Status == SessionStatus.WaitingForInput ? ", waits for input" : "")
                .Append(s.ChannelAttached ? "" : ", no channel (messages go through hooks)");
            if (!string.IsNullOrEmpty(s.Cwd))
            {
                text.Append(", dir ").Append(s.Cwd);
            }

            if (s.LastActivityAt is { } last)
            {
                text.Append(", last active ").Append(Format(last));
            }

            text.Append('\n');
        }

        if (response.Truncated)
        {
            text.Append("(list cut at the broker's limit; narrow it with machine or name_contains)\n");
        }

        return text.ToString().TrimEnd();
    }

    public static CallToolResult MessageSent(SendMessageToolResponse response)
    {
        if (response.QueuedLocally)
        {
            return RelayTool.Text($"Message {response.MessageId} is queued on this machine: Relay's broker is not reachable right now. "
                + "It is sent when the link is back, and a channel event reports what became of it.");
        }

        var status = response.Status ?? new SessionMessageStatus { Status = PromptStatus.Queued };
        var target = string.IsNullOrEmpty(status.TargetSessionName) ? status.TargetSessionId : status.TargetSessionName;
        if (status.Status is PromptStatus.Failed or PromptStatus.Expired)
        {
            return RelayTool.Error($"Relay did not accept message {response.MessageId}: {OrUnknown(status.Reason)} ({status.ErrorCode}).");
        }

        return RelayTool.Text($"Message {response.MessageId} accepted for session {OrUnknown(target)}"
            + (string.IsNullOrEmpty(status.TargetMachineName) ? "" : " on " + status.TargetMachineName)
            + $" ({Status(status.Status)}). Its answer arrives as a channel event with in_reply_to=\"{response.MessageId}\".");
    }

    public static string History(SessionHistoryToolResponse response)
    {
        var text = new StringBuilder();
        var session = response.Session;
        if (session is not null)
        {
            text.Append("Session ").Append(string.IsNullOrEmpty(session.Name) ? "(unnamed)" : session.Name)
                .Append(" [id ").Append(session.SessionId).Append("] on ").Append(OrUnknown(session.MachineName))
                .Append(": ").Append(Status(session.Status)).Append('\n');
        }

        if (response.Events.Count == 0)
        {
            text.Append("No prompts or replies yet.\n");
        }

        foreach (var e in response.Events)
        {
            text.Append(Format(e.OccurredAt)).Append(' ');
            switch (e.PayloadCase)
            {
                case Event.PayloadOneofCase.Prompt:
                    text.Append("prompt ").Append(e.Prompt.PromptId).Append(" from ").Append(OrUnknown(e.Prompt.Sender?.DisplayName))
                        .Append(" (").Append(Status(e.Prompt.Status)).Append("): ").Append(e.Prompt.Text);
                    break;
                case Event.PayloadOneofCase.Reply:
                    text.Append("reply").Append(string.IsNullOrEmpty(e.Reply.InReplyTo) ? "" : " to " + e.Reply.InReplyTo)
                        .Append(": ").Append(e.Reply.Text);
                    break;
                case Event.PayloadOneofCase.Hook:
                    text.Append("hook ").Append(e.Hook.HookEventName)
                        .Append(string.IsNullOrEmpty(e.Hook.Fields?.ToolName) ? "" : " " + e.Hook.Fields.ToolName);
                    break;
                case Event.PayloadOneofCase.Approval:
                    text.Append("approval ").Append(e.Approval.ApprovalId).Append(' ').Append(e.Approval.ToolName).Append(e.Approval.Status == ApprovalStatus.Pending ? " (pending)" : " (decided)");
                    break;
                default:
                    text.Append(e.Kind);
                    break;
            }

            text.Append('\n');
        }

        if (!string.IsNullOrEmpty(response.OlderCursor))
        {
            text.Append("Older entries exist: call session_history again with before_cursor=\"").Append(response.OlderCursor).Append("\".\n");
        }

        return text.ToString().TrimEnd();
    }

    public static CallToolResult Launched(LaunchSessionToolResponse response)
    {
        var launch = response.Launch;
        if (launch is null)
        {
            return RelayTool.Error("Relay returned no launch record; check the machine name with list_sessions and try again.");
        }

        if (launch.Status == LaunchStatus.Failed)
        {
            return RelayTool.Error($"Launch {launch.LaunchId} on {OrUnknown(launch.MachineName)} failed: {OrUnknown(launch.Error)}");
        }

        return RelayTool.Text($"Launch {launch.LaunchId} on {OrUnknown(launch.MachineName)}: {Status(launch.Status)}"
            + (string.IsNullOrEmpty(launch.SessionId) ? "" : $", session id {launch.SessionId}")
            + (string.IsNullOrEmpty(launch.Name) ? "" : $", name {launch.Name}")
            + (string.IsNullOrEmpty(launch.Cwd) ? "" : $", dir {launch.Cwd}")
            + ". Its answers arrive as channel events.");
    }

    private static string Status(SessionStatus status) => status switch
    {
        SessionStatus.Starting => "starting",
        SessionStatus.Working => "working",
        SessionStatus.WaitingForInput => "idle after a turn",
        SessionStatus.WaitingForApproval => "waiting for a permission decision",
        SessionStatus.Idle => "idle",
        SessionStatus.Ended => "ended",
        _ => "status unknown",
    };

    private static string Status(PromptStatus status) => Prompts.ChannelEventMeta.StatusName(status);

    private static string Status(LaunchStatus status) => status switch
    {
        LaunchStatus.Requested => "requested",
        LaunchStatus.Sent => "sent to the machine",
        LaunchStatus.Started => "started",
        LaunchStatus.Failed => "failed",
        _ => "status unknown",
    };

    private static string OrUnknown(string? value) => string.IsNullOrEmpty(value) ? "unknown" : value;

    private static string Format(Timestamp? at) =>
        at is null ? "?" : at.ToDateTimeOffset().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
