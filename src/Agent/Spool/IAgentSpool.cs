using Relay.Protocol.V1;

namespace Relay.Agent.Spool;

/// <summary>
/// The agent's on-disk spool: every sequenced <see cref="AgentMessage"/> (hook events, replies, receipts, approval
/// requests, snapshots, ...) is written here, durably, before its producer gets an answer, and leaves only when the
/// broker has acknowledged its seq (agent_link.proto, SEQUENCING and ACKNOWLEDGEMENT). It survives kill -9 of the
/// agent; it is bounded, and when full it drops hook events only (recording a sequenced <see cref="EventsDropped"/>),
/// never replies, prompts' receipts, permission requests or session messages.
/// </summary>
internal interface IAgentSpool
{
    /// <summary>The spool incarnation; a new one whenever the spool is created from scratch (Hello.spool_epoch).</summary>
    string Epoch { get; }

    /// <summary>The seq the next appended message will get (Hello.next_seq).</summary>
    ulong NextSeq { get; }

    /// <summary>Depth and size, for heartbeats and status.</summary>
    SpoolStats Stats { get; }

    /// <summary>
    /// Assigns the next seq to <paramref name="message"/> (overwriting its <c>seq</c>), writes it durably (fsync;
    /// concurrent appends share one flush) and returns the seq. Returns only when the message is on disk.
    /// </summary>
    ValueTask<ulong> AppendAsync(AgentMessage message, CancellationToken cancellationToken);

    /// <summary>
    /// Like <see cref="AppendAsync(AgentMessage, CancellationToken)"/>, but the message is made by
    /// <paramref name="compose"/> when its seq is assigned, so it reflects everything that happened before each message
    /// spooled ahead of it. For state reports (a SessionSnapshot) that must not be older than the events before them.
    /// A composer that throws fails the append with its exception.
    /// </summary>
    ValueTask<ulong> AppendAsync(Func<AgentMessage> compose, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="max"/> spooled messages with seq &gt; <paramref name="afterSeq"/>, in seq order.</summary>
    IReadOnlyList<AgentMessage> ReadAfter(ulong afterSeq, int max);

    /// <summary>Completes when a message with seq &gt; <paramref name="afterSeq"/> is in the spool.</summary>
    ValueTask WaitForMessagesAfterAsync(ulong afterSeq, CancellationToken cancellationToken);

    /// <summary>The broker has committed every message with seq &lt;= <paramref name="seq"/>: drop them (durably).</summary>
    ValueTask AcknowledgeAsync(ulong seq, CancellationToken cancellationToken);
}
