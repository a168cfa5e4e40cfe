namespace Relay.Tests.Shared.ClaudeCode;

/// <summary>
/// The environment a Claude Code child process gets: the test process's own environment minus anything that would
/// leak the real user's Claude setup (or mark the child as nested inside another Claude), plus the temporary HOME,
/// the stub's address, a dummy key and the switches that keep Claude Code off the network.
/// </summary>
public static class ClaudeCodeEnvironment
{
    /// <summary>The dummy API key every harness run uses (interactive mode pre-approves exactly this value).</summary>
    public const string ApiKey = "sk-ant-relay-test-0000000000000000";

    // Prefixes removed from the inherited environment. CLAUDECODE / CLAUDE_CODE_* mark a nested launch (reference §3.5);
    // ANTHROPIC_* could point the child at a real endpoint; OTEL_* and TMUX* belong to the outer process.
    private static readonly string[] StrippedPrefixes = ["CLAUDE", "ANTHROPIC_", "OTEL_", "TMUX", "XDG_", "MCP_", "DISABLE_"];

    /// <summary>
    /// Builds the child's environment. <paramref name="extra"/> wins over everything; a null value removes a variable
    /// (e.g. <c>["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = null</c>).
    /// </summary>
    public static Dictionary<string, string> Build(ClaudeCodeHome home, Uri apiBaseUrl, IReadOnlyDictionary<string, string?>? extra = null)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            var name = (string)entry.Key;
            if (!StrippedPrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)))
            {
                env[name] = (string?)entry.Value ?? string.Empty;
            }
        }

        env["HOME"] = home.Home;
        env["XDG_CONFIG_HOME"] = home.ConfigHome;
        env["XDG_CACHE_HOME"] = home.CacheHome;
        env["XDG_DATA_HOME"] = home.DataHome;
        env["XDG_STATE_HOME"] = home.StateHome;
        // Claude Code keeps per-session task output under $TMPDIR/claude-<uid>/; keep it inside the throw-away root.
        env["TMPDIR"] = home.TempDirectory;
        env["ANTHROPIC_BASE_URL"] = apiBaseUrl.ToString().TrimEnd('/');
        env["ANTHROPIC_API_KEY"] = ApiKey;
        // Offline: no update checks, telemetry, error reports, feature-flag fetches or other side traffic.
        env["DISABLE_AUTOUPDATER"] = "1";
        env["DISABLE_UPDATES"] = "1";
        env["DISABLE_TELEMETRY"] = "1";
        env["DISABLE_ERROR_REPORTING"] = "1";
        env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1";
        env["CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY"] = "1";
        // Keep stdio MCP servers on the classic initialize handshake (channels need it; reference §1.7).
        env["MCP_PROTOCOL_NEGOTIATION"] = "legacy";

        foreach (var (name, value) in extra ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                env.Remove(name);
            }
            else
            {
                env[name] = value;
            }
        }

        return env;
    }
}
