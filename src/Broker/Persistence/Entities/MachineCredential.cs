namespace Relay.Broker.Persistence.Entities;

/// <summary>A machine's long-lived bearer credential. Only its SHA-256 is stored (<see cref="TokenHash"/>).</summary>
internal sealed class MachineCredential
{
    public Guid Id { get; set; }

    public Guid MachineId { get; set; }

    /// <summary>SHA-256 of the credential; the credential itself is shown once, to the agent, and never stored.</summary>
    public required byte[] TokenHash { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? LastUsedAt { get; set; }

    public DateTimeOffset? RevokedAt { get; set; }
}
