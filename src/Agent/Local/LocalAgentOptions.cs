namespace Relay.Agent.Local;

/// <summary>
/// Bounds and places of the agent's local side (configuration section <c>Agent:Local</c>). Every duration is a
/// <see cref="TimeSpan"/> ("00:00:30"); <see cref="LocalAgentOptionsValidator"/> says how to fix a bad value.
/// </summary>
internal sealed class LocalAgentOptions
{
    public const string SectionName = "Agent:Local";

    /// <summary>The state directory (prompt queue, briefings, reply ids, launches); empty = LocalAgentPaths.StateDirectory().</summary>
    public string StateDirectory { get; set; } = string.Empty;

    /// <summary>The Unix socket path reported by status; empty = LocalAgentPaths.Socket().</summary>
    public string SocketPath { get; set; } = string.Empty;

    /// <summary>
    /// How long a prompt written to a channel may stay unacknowledged before the agent also offers it to the session's
    /// hooks. The channel acks as soon as it has written the notification, so this only trips on a wedged channel.
    /// </summary>
    public TimeSpan PromptAckTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a session whose Claude process was started with the Relay channel waits for that channel before its
    /// prompts go through hooks instead (SessionStart fires before MCP servers connect; the launcher's initial prompt
    /// must not be spent on it).
    /// </summary>
    public TimeSpan ChannelAttachWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a prompt handed to a hook answer stays reserved for it while the answer is written.</summary>
    public TimeSpan HookReservation { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long a PermissionRequest hook is held for a remote verdict. While it is held Claude Code shows no dialog in
    /// the terminal, so this is how long a person at the keyboard may wait; Claude Code's own http hook timeout is
    /// 600 s, far above it. On expiry the hook answers nothing and Claude asks in the terminal. Keep it below
    /// Agent:Hooks:PermissionRequestTimeout (28 s), the hook endpoint's own bound, so that the close is recorded here.
    /// </summary>
    public TimeSpan PermissionHoldTimeout { get; set; } = TimeSpan.FromSeconds(25);

    /// <summary>A hook and a channel permission request for the same session and tool within this window are one request.</summary>
    public TimeSpan PermissionDedupeWindow { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a session tool query (list_sessions, session_history, launch_session) may wait for the broker.</summary>
    public TimeSpan ToolCallTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long send_message waits for the broker's SessionMessageStatus before answering "queued locally".</summary>
    public TimeSpan SendMessageStatusWait { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>How long a channel has to send its ChannelHello after opening Attach.</summary>
    public TimeSpan HelloTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often Claude processes are checked for liveness and prompt expiry is applied.</summary>
    public TimeSpan TickInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>A session known only from http hooks (no process id) is forgotten after this long without activity.</summary>
    public TimeSpan PidlessSessionIdleTimeout { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Grace period of a graceful stop when the StopRequest gives none.</summary>
    public TimeSpan StopGracePeriod { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest reply or message text accepted from a channel, in characters (the broker's prompt limit).</summary>
    public int MaxTextChars { get; set; } = 100_000;

    /// <summary>Messages queued for one channel stream before it counts as not reading (it is then closed).</summary>
    public int ChannelQueueCapacity { get; set; } = 256;

    /// <summary>Session tool calls one channel may have in progress at once.</summary>
    public int MaxConcurrentToolCalls { get; set; } = 8;

    /// <summary>Accepted reply ids remembered (on disk) so that a re-sent reply is never spooled twice.</summary>
    public int ReplyIdMemory { get; set; } = 10_000;

    /// <summary>Finished prompts remembered (on disk) so that a retransmitted PromptDelivery is never delivered twice.</summary>
    public int FinishedPromptMemory { get; set; } = 2_000;

    /// <summary>The MCP server name Relay's channel is registered under (Claude must be started with <c>server:&lt;name&gt;</c>).</summary>
    public string ChannelServerName { get; set; } = "relay";

    /// <summary>Directory a launch runs in when the request names none; empty = the home directory.</summary>
    public string DefaultLaunchDirectory { get; set; } = string.Empty;
}
