namespace Relay.Broker.Persistence.Entities;

/// <summary>An enrolled developer machine (one agent). Online state is derived from the live stream, not stored.</summary>
internal sealed class Machine
{
    public Guid Id { get; set; }

    public required string Name { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? LastSeenAt { get; set; }

    /// <summary>Set when the machine is revoked; its credentials stop working and it disappears from lists.</summary>
    public DateTimeOffset? RevokedAt { get; set; }
}
