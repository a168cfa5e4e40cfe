namespace Relay.Broker.Persistence.Entities;

// Every enum is stored as its snake_case name (SnakeCaseEnumConverter), so values may be added without a migration
// and rows stay readable in psql. Renaming a member is a data migration.

/// <summary>What a personal API token may do.</summary>
internal enum TokenRole
{
    Viewer,
    Operator,
    Admin,
}

/// <summary>What a Relay session is doing, derived from hook events and presence.</summary>
internal enum SessionStatus
{
    Starting,
    Working,
    WaitingForInput,
    WaitingForApproval,
    Idle,
    Ended,
}

/// <summary>Why a new Claude session id joined a Relay session's lineage (SessionStart's <c>source</c>).</summary>
internal enum SegmentSource
{
    Startup,
    Clear,
    Resume,
    Compact,
    Fork,
}

/// <summary>What an agent reported.</summary>
internal enum EventKind
{
    Hook,
    ChannelAttached,
    ChannelDetached,
    Reply,
    PromptReceipt,
    PermissionRequest,
    SessionSnapshot,
    AgentConnected,
    AgentDisconnected,
    StreamReplaced,
}

/// <summary>Who sent a prompt.</summary>
internal enum SenderKind
{
    Person,
    Session,
}

/// <summary>A prompt's lifecycle (DESIGN.md §6).</summary>
internal enum PromptStatus
{
    Queued,
    Sent,
    Delivered,
    Seen,
    Replied,
    Expired,
    Failed,
}

/// <summary>How a prompt reached Claude.</summary>
internal enum DeliveryPath
{
    Channel,
    HookContext,
    HookStopBlock,
}

/// <summary>A permission request's outcome.</summary>
internal enum ApprovalStatus
{
    Pending,
    Allowed,
    Denied,
    Expired,
}

/// <summary>A launch request's progress.</summary>
internal enum LaunchStatus
{
    Requested,
    Sent,
    Started,
    Failed,
    Stopped,
}
