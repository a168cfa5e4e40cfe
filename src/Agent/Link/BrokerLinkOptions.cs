namespace Relay.Agent.Link;

/// <summary>The broker link. Section <c>Agent:Link</c>; durations are TimeSpans (<c>00:00:30</c>).</summary>
internal sealed class BrokerLinkOptions
{
    public const string SectionName = "Agent:Link";

    /// <summary>The first reconnect delay; each failed attempt doubles it (with full jitter) up to <see cref="MaxBackoff"/>. Default 1 s.</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The longest reconnect delay. Default 5 s: with full jitter an agent retries within this long of the broker coming
    /// back, so a restarted broker has its agents (and their spooled events) back within seconds, not the minute a
    /// longer cap allowed. A refused connection costs the broker nothing, and a broker that is shutting down says how
    /// long to wait (retry_after), which overrides this.
    /// </summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A stream that stayed up this long counts as healthy: the next reconnect starts from <see cref="InitialBackoff"/> again. Default 30 s.</summary>
    public TimeSpan HealthyAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long to wait after the broker refused the machine credential (revoked, unknown): retrying sooner cannot
    /// help, since only a new enrolment fixes it (the configuration is re-read before each attempt). Default 5 min.
    /// </summary>
    public TimeSpan AuthFailureBackoff { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How often an agent that is not enrolled looks at its configuration again. Default 10 s.</summary>
    public TimeSpan NotEnrolledPollInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long the broker may take to answer Hello with Welcome. Default 20 s.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Most unacknowledged broker messages the agent accepts in flight (Hello.receive_window). Default 256.</summary>
    public int ReceiveWindow { get; set; } = 256;

    /// <summary>Most spooled messages read per batch when draining the spool. Default 128.</summary>
    public int SendBatch { get; set; } = 128;

    /// <summary>
    /// The directory of the link's durable position (<c>link-position.json</c>); empty = the agent's state directory
    /// (<see cref="Relay.Protocol.Local.LocalAgentPaths.StateDirectory"/>).
    /// </summary>
    public string? StateDirectory { get; set; }

    public string ResolveStateDirectory() =>
        string.IsNullOrWhiteSpace(StateDirectory) ? Relay.Protocol.Local.LocalAgentPaths.StateDirectory() : StateDirectory;
}
