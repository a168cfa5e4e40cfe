namespace Relay.Channel.Hosting;

/// <summary>
/// relay-channel settings. Bound from the <c>Channel</c> configuration section, which Claude Code's MCP server entry
/// can set through environment variables (<c>Channel__ReplyTimeout=00:00:20</c>). The defaults suit a normal session.
/// </summary>
internal sealed class RelayChannelOptions
{
    public const string SectionName = "Channel";

    /// <summary>
    /// The agent's Unix socket. Empty (the default) means <c>LocalAgentPaths.Socket()</c>: <c>$RELAY_AGENT_SOCKET</c>,
    /// else <c>$XDG_RUNTIME_DIR/relay/agent.sock</c>, else <c>/tmp/relay-&lt;uid&gt;/agent.sock</c>.
    /// </summary>
    public string AgentSocket { get; set; } = "";

    /// <summary>
    /// How long the reply tool waits for the agent to confirm a reply before it tells Claude the reply is kept and will
    /// follow. Default 15 s (long enough to ride over an agent restart).
    /// </summary>
    public TimeSpan ReplyTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long a session tool waits for an absent agent to attach before it tells Claude the agent is not running.
    /// Default 5 s.
    /// </summary>
    public TimeSpan AgentWaitTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a session tool (list_sessions, send_message, ...) waits for the agent's answer. Default 30 s.</summary>
    public TimeSpan ToolTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>First delay before reconnecting to an absent agent; doubled per failure up to the maximum. Default 200 ms.</summary>
    public TimeSpan ReconnectMinDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest delay between reconnect attempts. Default 5 s.</summary>
    public TimeSpan ReconnectMaxDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long the channel waits for the agent's answer to ChannelHello. Default 10 s.</summary>
    public TimeSpan AttachTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the channel checks that its parent (Claude Code) is still alive. Default 2 s.</summary>
    public TimeSpan ParentPollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Messages waiting for the single writer of the agent stream. Default 256.</summary>
    public int OutboundCapacity { get; set; } = 256;

    /// <summary>Replies Claude gave that the agent has not confirmed yet, kept for re-sending. Default 1,000.</summary>
    public int MaxPendingReplies { get; set; } = 1_000;
}
