namespace Relay.Broker.Persistence.Entities;

/// <summary>
/// A request to stop a session's Claude process (Admin.StopSession), routed to the machine's agent through its outbox,
/// and the agent's answer.
/// </summary>
internal sealed class StopRequest
{
    /// <summary>The client-generated stop id.</summary>
    public Guid Id { get; set; }

    public Guid MachineId { get; set; }

    public Guid RelaySessionId { get; set; }

    /// <summary>Kill at once instead of asking Claude to exit.</summary>
    public bool Force { get; set; }

    /// <summary>How long a graceful stop may take; null = the agent's default.</summary>
    public TimeSpan? GracePeriod { get; set; }

    public string? Reason { get; set; }

    public required string RequestedBy { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>When it went into the machine's outbox; null while queued.</summary>
    public DateTimeOffset? SentAt { get; set; }

    /// <summary>When the agent answered.</summary>
    public DateTimeOffset? FinishedAt { get; set; }

    /// <summary>The agent's answer: true when the process is gone; null until it answered.</summary>
    public bool? Stopped { get; set; }

    public string? Error { get; set; }
}
