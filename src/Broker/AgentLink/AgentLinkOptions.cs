namespace Relay.Broker.AgentLink;

/// <summary>The agents' stream (AgentLink.Connect). Section <c>AgentLink</c>; durations are TimeSpans (<c>00:00:15</c>).</summary>
internal sealed class AgentLinkOptions
{
    public const string SectionName = "AgentLink";

    /// <summary>The broker heartbeats a stream after this long without sending anything; the agent answers. Default 15 s.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>A side that hears nothing for this long ends the stream. Default 45 s (three heartbeats).</summary>
    public TimeSpan PeerTimeout { get; set; } = TimeSpan.FromSeconds(45);

    /// <summary>How long a new stream may take to send its Hello. Default 10 s.</summary>
    public TimeSpan HelloTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Most unacknowledged sequenced messages an agent may have in flight to the broker. Default 1,000.</summary>
    public int ReceiveWindow { get; set; } = 1000;

    /// <summary>Broker→agent messages in flight when the agent's Hello asks for no particular window. Default 256.</summary>
    public int DefaultSendWindow { get; set; } = 256;

    /// <summary>The largest agent message accepted, in bytes; larger sequenced messages are rejected one by one. Default 1 MiB.</summary>
    public int MaxMessageBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// Messages queued for one agent's stream. An agent that stops reading until this fills is told SLOW_CONSUMER and
    /// disconnected; it resumes from its position. Default 1,024.
    /// </summary>
    public int OutboundQueueCapacity { get; set; } = 1024;

    /// <summary>
    /// How long an agent's Ack that arrives alone waits to be recorded with the next batch of its stream (a prompt's
    /// delivery ack is followed by its receipt) instead of in a transaction of its own. The agent's window opens at
    /// once either way; what waits is deleting the acknowledged outbox rows, which a reconnect does from the agent's
    /// position anyway. Zero records every Ack at once. Default 50 ms.
    /// </summary>
    public TimeSpan AckLinger { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Most sequenced messages of one stream stored in one transaction (and acked with one Ack). Default 1,000: the
    /// receive window, so that a busy stream's whole window goes in one batch. A smaller bound split it into two batches
    /// of one machine in each group commit, which then could not share one round trip (docs/benchmarks.md).
    /// </summary>
    public int MaxBatchMessages { get; set; } = 1000;

    /// <summary>
    /// Most bytes of sequenced messages (as the agent sent them) in one batch; a batch always takes at least one message.
    /// Bounds what one transaction sends PostgreSQL when the messages are large. Default 16 MiB.
    /// </summary>
    public int MaxBatchBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// Most sequenced agent messages this replica holds read from their streams and not yet committed, across all streams.
    /// When it is reached, streams read no further until commits make room, and what they have not read waits in HTTP/2
    /// flow control and then in the agents' spools. Without it a replica under load would hold streams × ReceiveWindow
    /// messages in memory. Default 8,192: twice the most one group commit takes, so the next group gathers while one
    /// commits. Each stream may pass it by one message.
    /// </summary>
    public int InboundBudgetMessages { get; set; } = 8192;

    /// <summary>
    /// Most bytes (as the agents sent them) of those messages. Each stream may pass it by one message. Default 64 MiB.
    /// </summary>
    public long InboundBudgetBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// Most agent-stream transactions of this replica that run at once besides the group commit of batches: handshakes,
    /// stream releases and batches that carry only an ack (each holds a database connection). Others wait without one.
    /// Default 4.
    /// </summary>
    public int MaxConcurrentBatches { get; set; } = 4;

    /// <summary>How long a machine counts as online after the broker last renewed its stream's lease. Default 90 s.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>What a SHUTTING_DOWN notice tells agents to wait before reconnecting. Default 2 s.</summary>
    public TimeSpan ShutdownRetryAfter { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long an ending stream may take to flush its last messages (a peer that stopped reading). Default 5 s.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>This replica's name in leases and Welcome; default the host name.</summary>
    public string ReplicaName { get; set; } = Environment.MachineName;
}
