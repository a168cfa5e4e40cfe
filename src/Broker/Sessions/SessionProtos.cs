using Google.Protobuf.WellKnownTypes;
using Relay.Broker.Persistence.Entities;
using Pb = Relay.Protocol.V1;

namespace Relay.Broker.Sessions;

/// <summary>Sessions as the relay.v1 messages AgentLink sends (bindings) and stores (event payloads).</summary>
internal static class SessionProtos
{
    /// <summary>The payload of session_* and channel_* event log entries: the session after the change.</summary>
    public static Pb.Session ToSession(RelaySession session, string machineName, Guid? claudeSessionId) => new()
    {
        SessionId = session.Id.ToString("D"),
        Name = session.Name ?? string.Empty,
        MachineId = session.MachineId.ToString("D"),
        MachineName = machineName,
        Status = ToProto(session.Status),
        // The entry is written by the machine's live stream, so the machine is online when it happens.
        MachineOnline = true,
        ChannelAttached = session.ChannelAttached,
        Cwd = session.Cwd,
        ProjectDir = session.ProjectDir ?? string.Empty,
        LaunchId = session.LaunchId?.ToString("D") ?? string.Empty,
        ClaudeSessionId = claudeSessionId?.ToString("D") ?? string.Empty,
        ClaudePid = session.ClaudePid ?? 0,
        PermissionMode = session.PermissionMode ?? string.Empty,
        Model = session.Model ?? string.Empty,
        TmuxTarget = session.TmuxTarget ?? string.Empty,
        CreatedAt = Timestamp.FromDateTimeOffset(session.CreatedAt),
        LastActivityAt = Timestamp.FromDateTimeOffset(session.LastActivityAt ?? session.UpdatedAt),
        EndedAt = session.EndedAt is { } ended ? Timestamp.FromDateTimeOffset(ended) : null,
        EndReason = ToEndReason(session.EndReason),
    };

    /// <summary>The broker's view of a session for its agent (AgentLink SessionBinding).</summary>
    public static Pb.SessionBinding ToBinding(RelaySession session, IEnumerable<Guid> lineage) => new()
    {
        SessionId = session.Id.ToString("D"),
        Name = session.Name ?? string.Empty,
        ClaudeSessionIds = { lineage.Select(id => id.ToString("D")) },
        LaunchId = session.LaunchId?.ToString("D") ?? string.Empty,
        ClaudePid = session.ClaudePid ?? 0,
        ClaudeStartedAt = session.ClaudeStartedAt is { } started ? Timestamp.FromDateTimeOffset(started) : null,
        Ended = session.Status == SessionStatus.Ended,
    };

    public static Pb.SessionStatus ToProto(SessionStatus status) => status switch
    {
        SessionStatus.Starting => Pb.SessionStatus.Starting,
        SessionStatus.Working => Pb.SessionStatus.Working,
        SessionStatus.WaitingForInput => Pb.SessionStatus.WaitingForInput,
        SessionStatus.WaitingForApproval => Pb.SessionStatus.WaitingForApproval,
        SessionStatus.Idle => Pb.SessionStatus.Idle,
        SessionStatus.Ended => Pb.SessionStatus.Ended,
        _ => Pb.SessionStatus.Unspecified,
    };

    public static Pb.SessionEndReason ToEndReason(string? reason) => reason switch
    {
        SessionEndReasons.Exited => Pb.SessionEndReason.Exited,
        SessionEndReasons.ProcessGone => Pb.SessionEndReason.ProcessGone,
        SessionEndReasons.NotInSnapshot => Pb.SessionEndReason.NotInSnapshot,
        SessionEndReasons.Stopped => Pb.SessionEndReason.Stopped,
        SessionEndReasons.MachineRevoked => Pb.SessionEndReason.MachineRevoked,
        _ => Pb.SessionEndReason.Unspecified,
    };
}
