using Google.Protobuf.WellKnownTypes;
using Pb = Relay.Protocol.V1;
using Db = Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Queries.Sessions;

/// <summary>Session rows and segments as relay.v1 messages.</summary>
internal static class SessionMapper
{
    public static Pb.Session ToProto(SessionRow row, IEnumerable<Db.SessionSegment>? lineage = null)
    {
        var session = new Pb.Session
        {
            SessionId = row.Id.ToString("D"),
            Name = row.Name ?? "",
            MachineId = row.MachineId.ToString("D"),
            MachineName = row.MachineName,
            Status = ToProto(row.Status),
            MachineOnline = row.MachineOnline,
            ChannelAttached = row.ChannelAttached,
            Cwd = row.Cwd,
            ProjectDir = row.ProjectDir ?? "",
            LaunchId = row.LaunchId?.ToString("D") ?? "",
            ClaudeSessionId = row.ClaudeSessionId?.ToString("D") ?? "",
            ClaudePid = row.ClaudePid ?? 0,
            PermissionMode = row.PermissionMode ?? "",
            Model = row.Model ?? "",
            TmuxTarget = row.TmuxTarget ?? "",
            CreatedAt = Timestamp.FromDateTimeOffset(row.CreatedAt),
            LastActivityAt = Timestamp.FromDateTimeOffset(row.LastActivityAt),
            EndedAt = row.EndedAt is { } ended ? Timestamp.FromDateTimeOffset(ended) : null,
            EndReason = ToEndReason(row.EndReason),
            PendingPrompts = (uint)row.PendingPrompts,
            PendingApprovals = (uint)row.PendingApprovals,
        };

        if (lineage is not null)
        {
            var segments = lineage.OrderBy(s => s.Ordinal).ToList();
            for (var i = 0; i < segments.Count; i++)
            {
                var next = i + 1 < segments.Count ? segments[i + 1].StartedAt : row.EndedAt;
                session.Lineage.Add(new Pb.SessionSegment
                {
                    ClaudeSessionId = segments[i].ClaudeSessionId.ToString("D"),
                    Source = ToProto(segments[i].Source),
                    StartedAt = Timestamp.FromDateTimeOffset(segments[i].StartedAt),
                    EndedAt = next is { } end ? Timestamp.FromDateTimeOffset(end) : null,
                    TranscriptPath = segments[i].TranscriptPath ?? "",
                });
            }
        }

        return session;
    }

    public static Pb.SessionStatus ToProto(Db.SessionStatus status) => status switch
    {
        Db.SessionStatus.Starting => Pb.SessionStatus.Starting,
        Db.SessionStatus.Working => Pb.SessionStatus.Working,
        Db.SessionStatus.WaitingForInput => Pb.SessionStatus.WaitingForInput,
        Db.SessionStatus.WaitingForApproval => Pb.SessionStatus.WaitingForApproval,
        Db.SessionStatus.Idle => Pb.SessionStatus.Idle,
        Db.SessionStatus.Ended => Pb.SessionStatus.Ended,
        _ => Pb.SessionStatus.Unspecified,
    };

    public static Db.SessionStatus? FromProto(Pb.SessionStatus status) => status switch
    {
        Pb.SessionStatus.Starting => Db.SessionStatus.Starting,
        Pb.SessionStatus.Working => Db.SessionStatus.Working,
        Pb.SessionStatus.WaitingForInput => Db.SessionStatus.WaitingForInput,
        Pb.SessionStatus.WaitingForApproval => Db.SessionStatus.WaitingForApproval,
        Pb.SessionStatus.Idle => Db.SessionStatus.Idle,
        Pb.SessionStatus.Ended => Db.SessionStatus.Ended,
        _ => null,
    };

    private static Pb.SessionStartSource ToProto(Db.SegmentSource source) => source switch
    {
        Db.SegmentSource.Startup => Pb.SessionStartSource.Startup,
        Db.SegmentSource.Clear => Pb.SessionStartSource.Clear,
        Db.SegmentSource.Resume => Pb.SessionStartSource.Resume,
        Db.SegmentSource.Compact => Pb.SessionStartSource.Compact,
        Db.SegmentSource.Fork => Pb.SessionStartSource.Fork,
        _ => Pb.SessionStartSource.Unspecified,
    };

    /// <summary>
    /// sessions.end_reason holds the snake_case of SessionEndReason (<c>not_in_snapshot</c>, <c>stopped</c>, ...) or
    /// <c>launch_failed</c>; Claude Code's own SessionEnd reasons are tolerated and mean the process exited.
    /// </summary>
    private static Pb.SessionEndReason ToEndReason(string? reason) => reason?.Trim().ToLowerInvariant() switch
    {
        null or "" => Pb.SessionEndReason.Unspecified,
        "process_gone" => Pb.SessionEndReason.ProcessGone,
        "not_in_snapshot" => Pb.SessionEndReason.NotInSnapshot,
        "stopped" => Pb.SessionEndReason.Stopped,
        "machine_revoked" => Pb.SessionEndReason.MachineRevoked,
        "exited" or "logout" or "prompt_input_exit" or "other" or "clear" or "resume" or "bypass_permissions_disabled" => Pb.SessionEndReason.Exited,
        _ => Pb.SessionEndReason.Unspecified,
    };
}
