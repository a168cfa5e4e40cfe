namespace Relay.Broker.Persistence.Entities;

/// <summary>A one-time token an agent exchanges for a machine credential. Only its SHA-256 is stored.</summary>
internal sealed class EnrolmentToken
{
    public Guid Id { get; set; }

    /// <summary>The name the enrolled machine gets; null lets the agent propose one.</summary>
    public string? MachineName { get; set; }

    public required byte[] TokenHash { get; set; }

    /// <summary>Who created it (a token id or name from the audit vocabulary).</summary>
    public required string CreatedBy { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    /// <summary>When it was exchanged; a used token is never accepted again.</summary>
    public DateTimeOffset? UsedAt { get; set; }

    /// <summary>The machine it enrolled.</summary>
    public Guid? MachineId { get; set; }

    public DateTimeOffset? RevokedAt { get; set; }
}
