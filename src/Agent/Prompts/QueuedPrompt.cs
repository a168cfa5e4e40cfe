using Relay.Protocol.V1;

namespace Relay.Agent.Prompts;

/// <summary>Where a prompt is on the machine.</summary>
internal enum PromptState
{
    /// <summary>Held by the agent, not delivered yet (it may have been written to a channel that has not acked).</summary>
    Pending,

    /// <summary>Written to the channel (acked) or handed to Claude in a hook answer; waiting for evidence it was seen.</summary>
    Delivered,

    /// <summary>Nothing more to do: seen, expired or failed. Only its id is kept, to drop retransmissions.</summary>
    Finished,
}

/// <summary>One prompt in the local queue; mutable, touched only under the queue's lock.</summary>
internal sealed class QueuedPrompt
{
    public required PromptDelivery Delivery { get; init; }

    public string Id => Delivery.PromptId;

    /// <summary>For a launch's initial prompt: the launch it waits for.</summary>
    public string LaunchId { get; init; } = string.Empty;

    /// <summary>A prompt of a local <c>relay-agent launch</c>: the broker does not know it, so no receipts are sent.</summary>
    public bool Local { get; init; }

    public DateTimeOffset ReceivedAt { get; init; }

    public PromptState State { get; set; }

    /// <summary>The channel it was last written to, and when; an ack from that channel delivers it.</summary>
    public string? SentToChannelId { get; set; }

    public DateTimeOffset SentAt { get; set; }

    /// <summary>A hook answer carrying it is being written (until <see cref="ReservedUntil"/>).</summary>
    public string? ReservedBy { get; set; }

    public DateTimeOffset ReservedUntil { get; set; }

    public long DeliveredToSession { get; set; }

    public DateTimeOffset DeliveredAt { get; set; }

    /// <summary>The hook event that delivered it (a later, different hook of the session is evidence it was seen).</summary>
    public string? DeliveredByEvent { get; set; }

    public bool IsExpired(DateTimeOffset now) => Delivery.ExpiresAt is { } expires && expires.ToDateTimeOffset() <= now;
}
