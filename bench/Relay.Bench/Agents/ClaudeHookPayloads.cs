using System.Globalization;
using System.Text;

namespace Relay.Bench.Agents;

/// <summary>
/// Hook inputs as Claude Code sends them (the shapes of <c>tests/Shared/ClaudeCode/payloads</c>), for one Claude session:
/// turns of UserPromptSubmit, four PreToolUse/PostToolUse pairs of Bash, and Stop. Every event carries a key of its own
/// in a field Claude Code itself fills (<c>tool_use_id</c> for tool events, <c>prompt_id</c> otherwise), so the bench
/// can find each one in the broker's database (see <see cref="KeyCountsSql"/>).
/// </summary>
internal sealed class ClaudeHookPayloads(string keyPrefix)
{
    /// <summary>Events per turn: UserPromptSubmit, 4 × (PreToolUse, PostToolUse), Stop.</summary>
    public const int TurnLength = 10;

    /// <summary>
    /// Every key stored, with how often: the key of a stored hook event (a row of <c>events</c>): its hook event name and the <c>tool_use_id</c> or
    /// <c>prompt_id</c> (SessionStart: <c>session_id</c>) of the raw payload the agent forwarded, e.g. <c>PostToolUse/toolu_…</c>,
    /// selected from the hook events of the machines <c>$1</c>.
    /// </summary>
    public const string KeyCountsSql =
        "SELECT hook_event_name || '/' || coalesce(r->>'tool_use_id', r->>'prompt_id', r->>'session_id'), count(*) " +
        "FROM (SELECT hook_event_name, (payload->>'rawJson')::jsonb AS r FROM events WHERE kind = 'hook' AND machine_id = ANY($1)) AS hooks GROUP BY 1";

    private readonly string _sessionId = Guid.NewGuid().ToString("D");

    /// <summary>The Claude session id every payload carries.</summary>
    public string SessionId => _sessionId;

    /// <summary>The <paramref name="index"/>th event of the session: its raw JSON and its key (see <see cref="KeyCountsSql"/>).</summary>
    public (string Json, string Key) Create(long index)
    {
        var turn = index / TurnLength;
        var step = (int)(index % TurnLength);
        var promptId = $"{keyPrefix}-p{turn.ToString(CultureInfo.InvariantCulture)}";
        var json = new StringBuilder(1024);
        json.Append("{\"session_id\":\"").Append(_sessionId)
            .Append("\",\"transcript_path\":\"/home/dev/.claude/projects/-home-dev-project/").Append(_sessionId)
            .Append(".jsonl\",\"cwd\":\"/home/dev/project\",\"prompt_id\":\"").Append(promptId)
            .Append("\",\"permission_mode\":\"default\",");
        switch (step)
        {
            case 0:
                json.Append("\"hook_event_name\":\"UserPromptSubmit\",\"prompt\":\"Run the broker's ingest tests and tell me which ones are slow.\"}");
                return (json.ToString(), "UserPromptSubmit/" + promptId);
            case TurnLength - 1:
                json.Append("\"effort\":{\"level\":\"medium\"},\"hook_event_name\":\"Stop\",\"stop_hook_active\":false,")
                    .Append("\"last_assistant_message\":\"The ingest tests pass; the slowest is IngestGate_ManyStreams at 4.2 s.\",")
                    .Append("\"background_tasks\":[],\"session_crons\":[]}");
                return (json.ToString(), "Stop/" + promptId);
            default:
                var toolUseId = $"toolu_{keyPrefix}_{turn.ToString(CultureInfo.InvariantCulture)}_{((step - 1) / 2).ToString(CultureInfo.InvariantCulture)}";
                var pre = step % 2 == 1;
                json.Append("\"effort\":{\"level\":\"medium\"},\"hook_event_name\":\"").Append(pre ? "PreToolUse" : "PostToolUse")
                    .Append("\",\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"dotnet test tests/Broker.Tests --filter Ingest --no-build\",")
                    .Append("\"description\":\"Run the broker's ingest tests\"},");
                if (!pre)
                {
                    json.Append("\"tool_response\":{\"stdout\":\"Passed!  - Failed: 0, Passed: 41, Skipped: 0, Total: 41, Duration: 38 s\",")
                        .Append("\"stderr\":\"\",\"interrupted\":false,\"isImage\":false,\"noOutputExpected\":false},\"duration_ms\":38211,");
                }

                json.Append("\"tool_use_id\":\"").Append(toolUseId).Append("\"}");
                return (json.ToString(), (pre ? "PreToolUse/" : "PostToolUse/") + toolUseId);
        }
    }

    /// <summary>A SessionStart input as Claude Code writes it to a command hook's stdin, for a new session.</summary>
    public static (string Json, string SessionId) SessionStart()
    {
        var id = Guid.NewGuid().ToString("D");
        return ("{\"session_id\":\"" + id + "\",\"transcript_path\":\"/home/dev/.claude/projects/-home-dev-project/" + id +
                ".jsonl\",\"cwd\":\"/home/dev/project\",\"hook_event_name\":\"SessionStart\",\"source\":\"startup\"}", id);
    }
}
