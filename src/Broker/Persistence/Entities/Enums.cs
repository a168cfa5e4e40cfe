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

    // Entries the broker makes itself, stored under the snake_case of their relay.v1.EventKind (Watch/Timeline/TimelineKinds
    // maps every stored kind). Payloads are the protobuf JSON of the message the kind names (Session, Prompt, ...).
    PromptCreated,
    PromptUpdated,
    ApprovalResolved,
    SessionStarted,
    SessionUpdated,
    SegmentStarted,
    SessionEnded,
    LaunchUpdated,
    MachineUpdated,
    MessageRejected,
    PermissionClosed,
    LaunchResult,
    StopResult,
    EventsDropped,
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
    Closed,
}

/// <summary>Which Claude Code mechanism raised a permission request.</summary>
internal enum ApprovalOrigin
{
    Channel,
    Hook,
}

/// <summary>Where a reply came from.</summary>
internal enum ReplySource
{
    ReplyTool,
    StopHook,
}

/// <summary>What a broker→agent outbox row carries.</summary>
internal enum OutboxKind
{
    Prompt,
    Verdict,
    Launch,
    Stop,
    SessionMessageStatus,
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
