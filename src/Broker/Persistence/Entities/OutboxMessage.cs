namespace Relay.Broker.Persistence.Entities;

/// <summary>
/// One broker→agent sequenced message of a machine (AgentLink), kept until the agent acknowledges it. A row is written
/// with <see cref="Seq"/> null; the machine's stream numbers rows in <see cref="Id"/> order under the
/// <see cref="AgentLinkState"/> row lock, so seqs have no gaps, and deletes them once acked.
/// </summary>
internal sealed class OutboxMessage
{
    public long Id { get; set; }

    public Guid MachineId { get; set; }

    /// <summary>The broker seq (in <see cref="AgentLinkState.BrokerEpoch"/>); null until numbered.</summary>
    public long? Seq { get; set; }

    public OutboxKind Kind { get; set; }

    /// <summary>The prompt, approval, launch or stop id the message carries.</summary>
    public Guid? RefId { get; set; }

    /// <summary>The <c>relay.v1.BrokerMessage</c>, serialized without its seq.</summary>
    public required byte[] Payload { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}
