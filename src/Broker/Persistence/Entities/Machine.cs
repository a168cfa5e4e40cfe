namespace Relay.Broker.Persistence.Entities;

/// <summary>An enrolled developer machine (one agent). Presence (<see cref="ConnectedAt"/>) is kept by the AgentLink stream.</summary>
internal sealed class Machine
{
    public Guid Id { get; set; }

    public required string Name { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? LastSeenAt { get; set; }

    /// <summary>Set when the machine is revoked; its credentials stop working and it disappears from lists.</summary>
    public DateTimeOffset? RevokedAt { get; set; }

    /// <summary>Host name from the agent's last Hello.</summary>
    public string? Hostname { get; set; }

    /// <summary>Operating system and architecture from the last Hello (<c>linux-x64</c>).</summary>
    public string? Os { get; set; }

    public string? AgentVersion { get; set; }

    public string? ClaudeCodeVersion { get; set; }

    /// <summary>
    /// When the current AgentLink stream began; null while offline. A crashed replica cannot clear it, so "online" is
    /// <c>connected_at IS NOT NULL</c> and the lease in <see cref="AgentLinkState.LeaseExpiresAt"/> not yet expired.
    /// </summary>
    public DateTimeOffset? ConnectedAt { get; set; }

    /// <summary>The agent's statistics from its last heartbeat: <c>relay.v1.AgentStats</c> as protobuf JSON (jsonb).</summary>
    public string? AgentStats { get; set; }
}
