using Google.Protobuf.WellKnownTypes;
using Relay.Protocol.V1;

namespace Relay.Bench.Agents;

/// <summary>
/// The hook events a simulated agent sends: one Claude session per agent, alternating PreToolUse and PostToolUse of
/// Bash with a raw hook payload of about 450 bytes, as Claude Code's http hook posts it. Everything but the event id
/// and the time is shared between messages, so the generator spends its CPU on the wire, not on building messages.
/// </summary>
internal sealed class HookEvents
{
    private readonly SessionEvidence _session;
    private readonly HookFields _fields;
    private readonly string _preJson;
    private readonly string _postJson;

    public HookEvents(int pid)
    {
        var claudeId = Guid.NewGuid().ToString("D");
        var transcript = $"/home/dev/.claude/projects/-home-dev-project/{claudeId}.jsonl";
        _session = new SessionEvidence { ClaudeSessionId = claudeId, ClaudePid = pid, Cwd = "/home/dev/project" };
        _fields = new HookFields { ToolName = "Bash", TranscriptPath = transcript, PermissionMode = "default" };
        var body = "\"session_id\":\"" + claudeId + "\",\"transcript_path\":\"" + transcript + "\",\"cwd\":\"/home/dev/project\"," +
                   "\"permission_mode\":\"default\",\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"git status --short && ls -la src/Broker/AgentLink\"," +
                   "\"description\":\"Show the working tree status and list the agent link sources\"}";
        _preJson = "{" + body + ",\"hook_event_name\":\"PreToolUse\"}";
        _postJson = "{" + body + ",\"hook_event_name\":\"PostToolUse\",\"tool_response\":{\"stdout\":\"M src/Broker/AgentLink/InboundProcessor.cs\",\"stderr\":\"\",\"interrupted\":false}}";
    }

    /// <summary>The <paramref name="index"/>th hook event of the session (even: PreToolUse, odd: PostToolUse).</summary>
    public AgentMessage Create(long index, ulong seq)
    {
        var pre = index % 2 == 0;
        return new AgentMessage
        {
            Seq = seq,
            HookEvent = new HookEvent
            {
                // As relay-agent's http hook endpoint makes them (HookEndpoint): time-ordered, so the broker's unique
                // index of (machine, event id) grows at its end as it does for real agents.
                EventId = Guid.CreateVersion7().ToString("D"),
                Session = _session,
                HookEventName = pre ? "PreToolUse" : "PostToolUse",
                RawJson = pre ? _preJson : _postJson,
                Fields = _fields,
                Transport = HookTransport.Http,
                OccurredAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
            },
        };
    }

    /// <summary>The raw payload of the <paramref name="index"/>th event, for the HTTP baseline.</summary>
    public string RawJson(long index) => index % 2 == 0 ? _preJson : _postJson;
}
