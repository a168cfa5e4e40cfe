using Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Queries.Sessions;

/// <summary>A session as lists and details show it: the row, its machine, its current Claude id, presence and counts.</summary>
internal sealed record SessionRow(
    Guid Id,
    string? Name,
    Guid MachineId,
    string MachineName,
    SessionStatus Status,
    bool ChannelAttached,
    string Cwd,
    string? ProjectDir,
    Guid? LaunchId,
    int? ClaudePid,
    DateTimeOffset CreatedAt,
    DateTimeOffset LastActivityAt,
    DateTimeOffset? EndedAt,
    string? EndReason,
    Guid? ClaudeSessionId,
    bool MachineOnline,
    int PendingPrompts,
    int PendingApprovals,
    string? PermissionMode,
    string? Model,
    string? TmuxTarget)
{
    /// <summary>How people refer to it in messages: its name, else its id.</summary>
    public string Label => string.IsNullOrEmpty(Name) ? Id.ToString("D") : $"'{Name}' ({Id:D})";
}
