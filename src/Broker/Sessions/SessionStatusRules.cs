using Relay.Broker.Persistence.Entities;
using Relay.Protocol.V1;
using SessionStatus = Relay.Broker.Persistence.Entities.SessionStatus;

namespace Relay.Broker.Sessions;

/// <summary>How hook events move a session's status (common.proto SessionStatus). Pure, so it is tested on its own.</summary>
internal static class SessionStatusRules
{
    /// <summary>The status after <paramref name="hookEventName"/>; null = unchanged. SessionEnd is decided by <see cref="EndsSession"/>.</summary>
    public static SessionStatus? AfterHook(string hookEventName, HookFields? fields, SessionStatus current) => hookEventName switch
    {
        // Compaction keeps the conversation going (auto-compaction happens mid-turn): it changes nothing.
        "SessionStart" when fields?.StartSource == SessionStartSource.Compact => current is SessionStatus.Starting or SessionStatus.Ended ? SessionStatus.Idle : null,
        "SessionStart" => SessionStatus.Idle,
        "UserPromptSubmit" or "UserPromptExpansion" => SessionStatus.Working,
        "PreToolUse" or "PostToolUse" or "PostToolUseFailure" or "PostToolBatch" or "PermissionDenied"
            or "SubagentStart" or "SubagentStop" or "TaskCreated" or "TaskCompleted" => SessionStatus.Working,
        "PermissionRequest" => SessionStatus.WaitingForApproval,
        "Notification" => fields?.NotificationType switch
        {
            "permission_prompt" => SessionStatus.WaitingForApproval,
            "idle_prompt" => SessionStatus.Idle,
            _ => Leave(current),
        },
        "Stop" or "StopFailure" => SessionStatus.WaitingForInput,
        "SessionEnd" => null,
        _ => Leave(current),
    };

    /// <summary>
    /// True when a SessionEnd with <paramref name="reason"/> means the Claude process is going away. /clear and an
    /// interactive /resume fire SessionEnd too, but the process lives on with a new Claude session id.
    /// </summary>
    public static bool EndsSession(string? reason) => reason is not ("clear" or "resume");

    /// <summary>The segment source of a SessionStart's <c>source</c>.</summary>
    public static SegmentSource? ToSegmentSource(SessionStartSource source) => source switch
    {
        SessionStartSource.Startup => SegmentSource.Startup,
        SessionStartSource.Resume => SegmentSource.Resume,
        SessionStartSource.Clear => SegmentSource.Clear,
        SessionStartSource.Compact => SegmentSource.Compact,
        SessionStartSource.Fork => SegmentSource.Fork,
        _ => null,
    };

    // Any sign of life moves a launched session out of STARTING.
    private static SessionStatus? Leave(SessionStatus current) => current == SessionStatus.Starting ? SessionStatus.Idle : null;
}
