namespace Relay.Agent.Install;

/// <summary>
/// The Claude Code hook events Relay listens to (reference §2.3: the events that accept <c>type: "http"</c>), and
/// the ones it deliberately leaves alone.
/// </summary>
internal static class ClaudeHookEvents
{
    /// <summary>The event that gets a longer timeout: the agent holds it open for a remote verdict.</summary>
    public const string PermissionRequest = "PermissionRequest";

    /// <summary>The one event Relay needs that accepts only command (and mcp_tool) handlers.</summary>
    public const string SessionStart = "SessionStart";

    /// <summary>Events that get an http handler, in the order they are written.</summary>
    public static IReadOnlyList<string> Http { get; } =
    [
        "PreToolUse",
        PermissionRequest,
        "PermissionDenied",
        "PostToolUse",
        "PostToolUseFailure",
        "UserPromptSubmit",
        "UserPromptExpansion",
        "Notification",
        "Stop",
        "StopFailure",
        "SubagentStart",
        "SubagentStop",
        "TaskCreated",
        "TaskCompleted",
        "TeammateIdle",
        "PreCompact",
        "PostCompact",
        "SessionEnd",
        "ConfigChange",
        "CwdChanged",
        "DirectoryAdded",
        "InstructionsLoaded",
        "Elicitation",
        "ElicitationResult",
    ];

    /// <summary>Events that accept http handlers but get none, and why (printed by <c>install --dry-run</c> and in the docs).</summary>
    public static IReadOnlyDictionary<string, string> Skipped { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["WorktreeCreate"] = "a handler on it replaces git's worktree creation and must return the path, so it would break --worktree",
        ["WorktreeRemove"] = "a handler on it replaces git's worktree removal",
        ["MessageDisplay"] = "fires for every batch of streamed text: noise, and it sits in the display path",
        ["FileChanged"] = "its matcher is the list of files to watch; there is nothing for Relay to watch",
        ["PostToolBatch"] = "repeats every tool result PostToolUse already sent",
    };
}
