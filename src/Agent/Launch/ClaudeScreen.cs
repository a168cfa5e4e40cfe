namespace Relay.Agent.Launch;

/// <summary>What Claude Code's terminal shows, as far as the launcher cares.</summary>
internal enum ClaudeScreenKind
{
    /// <summary>Nothing recognised yet (starting up).</summary>
    Unknown,

    /// <summary>The "WARNING: Loading development channels" confirmation (reference §1.7); Enter accepts it.</summary>
    DevelopmentChannelsDialog,

    /// <summary>Another start-up dialog the launcher must not answer on the user's behalf.</summary>
    Blocked,

    /// <summary>Claude's main screen: ready for input.</summary>
    Ready,
}

/// <summary>A classified screen: its kind and, for <see cref="ClaudeScreenKind.Blocked"/>, what the user must do.</summary>
internal sealed record ClaudeScreen(ClaudeScreenKind Kind, string? Hint = null)
{
    // The dialog's title and its accepting choice (from the 2.1.x binary: confirmLabel "I am using this for local
    // development", cancelLabel "Exit"; the confirming choice has the focus, so Enter accepts).
    private static readonly string[] DevelopmentChannelsMarkers =
    [
        "Loading development channels",
        "I am using this for local development",
    ];

    // Dialogs that pre-approve something the user has not approved: the launcher reports them, never answers them.
    private static readonly (string Marker, string Hint)[] Blockers =
    [
        ("Do you want to use this API key", "Claude Code asks whether to use the ANTHROPIC_API_KEY in its environment. Run 'claude' once interactively and approve the key (or list it under customApiKeyResponses.approved in ~/.claude.json)."),
        ("Do you trust the files in this folder", "Claude Code asks to trust the workspace. Launch in a project directory (trust is never stored for the home directory)."),
        ("Is this a project you created or one you trust", "Claude Code asks to trust the workspace. Launch in a project directory (trust is never stored for the home directory)."),
        ("Bypass Permissions mode", "Claude Code asks to confirm bypass-permissions mode. Set skipDangerousModePermissionPrompt in your settings, or launch without it."),
        ("New MCP server found in", "Claude Code asks to approve a project MCP server from .mcp.json. Approve it once interactively, or list it in enabledMcpjsonServers."),
        ("Select login method", "Claude Code is not logged in. Run 'claude' once interactively and log in (or set ANTHROPIC_API_KEY)."),
        ("Choose the text style", "Claude Code's first-run set-up has not been completed. Run 'claude' once interactively."),
    ];

    // The main screen: the welcome banner, the shortcut hint of older versions, the mode line of newer ones.
    private static readonly string[] ReadyMarkers = ["Claude Code v", "? for shortcuts", "shift+tab to cycle"];

    // What Claude Code prints when it starts without the channel the flag asked for (the channels feature gate is
    // closed, as it is offline): the session runs, but channel notifications are dropped silently.
    private static readonly string[] ChannelsRefusedMarkers =
    [
        "development-channels ignored",
        "Channels are not currently available",
        "channels aren't available right now",
    ];

    /// <summary>True when the capture shows that Claude Code ignored the development-channels flag.</summary>
    public static bool ChannelsRefused(string? screen) =>
        !string.IsNullOrEmpty(screen) && Array.Exists(ChannelsRefusedMarkers, m => screen.Contains(m, StringComparison.OrdinalIgnoreCase));

    /// <summary>Classifies a capture of the pane.</summary>
    public static ClaudeScreen Classify(string? screen)
    {
        if (string.IsNullOrEmpty(screen))
        {
            return new(ClaudeScreenKind.Unknown);
        }

        if (Array.Exists(DevelopmentChannelsMarkers, m => screen.Contains(m, StringComparison.Ordinal)))
        {
            return new(ClaudeScreenKind.DevelopmentChannelsDialog);
        }

        foreach (var (marker, hint) in Blockers)
        {
            if (screen.Contains(marker, StringComparison.OrdinalIgnoreCase))
            {
                return new(ClaudeScreenKind.Blocked, hint);
            }
        }

        return Array.Exists(ReadyMarkers, m => screen.Contains(m, StringComparison.Ordinal))
            ? new(ClaudeScreenKind.Ready)
            : new(ClaudeScreenKind.Unknown);
    }

    /// <summary>The last <paramref name="count"/> non-blank lines of a capture, for error messages.</summary>
    public static string LastLines(string? screen, int count = 12)
    {
        if (string.IsNullOrWhiteSpace(screen))
        {
            return "(the pane showed nothing)";
        }

        var lines = screen.Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0).ToList();
        return string.Join('\n', lines.Skip(Math.Max(0, lines.Count - count)));
    }
}
