namespace Relay.Broker.Persistence.Entities;

/// <summary>
/// Where a machine's AgentLink stream stands, so a reconnect resumes rather than restarts, and which broker replica
/// holds the machine's stream (a lease, so two replicas never serve one machine).
/// </summary>
internal sealed class AgentLinkState
{
    public Guid MachineId { get; set; }

    /// <summary>The highest agent→broker sequence number committed; what the broker acks and resumes from.</summary>
    public long LastInboundSeq { get; set; }

    /// <summary>The last broker→agent sequence number assigned.</summary>
    public long LastOutboundSeq { get; set; }

    /// <summary>The highest broker→agent sequence number the agent acknowledged.</summary>
    public long LastOutboundSeqAcked { get; set; }

    /// <summary>The agent's spool epoch that <see cref="LastInboundSeq"/> counts in; a new one restarts the count.</summary>
    public string? SpoolEpoch { get; set; }

    /// <summary>The epoch of this machine's outbox; broker→agent seqs are scoped to it.</summary>
    public string BrokerEpoch { get; set; } = string.Empty;

    /// <summary>
    /// The stream that owns the machine now. Every inbound batch checks it under the row lock, so a replaced stream
    /// (on this or another replica) can never commit or ack after its successor took over.
    /// </summary>
    public Guid? ConnectionId { get; set; }

    /// <summary>The replica serving the machine's stream.</summary>
    public string? LeaseHolder { get; set; }

    public DateTimeOffset? LeaseExpiresAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>PostgreSQL's xmin, guarding lease takeovers.</summary>
    public uint Version { get; set; }
}
