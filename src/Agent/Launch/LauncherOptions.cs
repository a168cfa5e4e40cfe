using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Relay.Agent.Launch;

/// <summary>How sessions are launched (configuration section <c>Agent:Launcher</c>).</summary>
internal sealed class LauncherOptions
{
    public const string Section = "Agent:Launcher";

    /// <summary>The tmux server's socket name (<c>tmux -L &lt;name&gt;</c>): Relay's sessions live on their own server.</summary>
    public string TmuxSocketName { get; set; } = "relay";

    /// <summary>The tmux program (name on PATH or path).</summary>
    public string TmuxCommand { get; set; } = "tmux";

    /// <summary>The Claude Code program (name on PATH or path).</summary>
    public string ClaudeCommand { get; set; } = "claude";

    /// <summary>How long Claude may take to reach its prompt, development-channels confirmation included.</summary>
    public TimeSpan ConfirmationTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the pane is looked at while waiting.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Load the user's <c>~/.tmux.conf</c> into Relay's tmux server. Off by default: options such as
    /// <c>destroy-unattached</c> would end detached sessions.
    /// </summary>
    public bool SourceUserTmuxConfig { get; set; }

    /// <summary>Width of a new session's window (until someone attaches).</summary>
    public int WindowWidth { get; set; } = 200;

    /// <summary>Height of a new session's window (until someone attaches).</summary>
    public int WindowHeight { get; set; } = 50;

    /// <summary>Extra environment variables passed from the agent to Claude (besides Relay's own, PATH and HOME).</summary>
    public List<string> PassEnvironment { get; set; } = [];

    /// <summary>Claude Code's user state file to pre-trust workspaces in; empty = <c>~/.claude.json</c> (or under CLAUDE_CONFIG_DIR).</summary>
    public string? ClaudeStateFile { get; set; }

    /// <summary>Where the generated tmux configuration is written; empty = the agent's state directory.</summary>
    public string? TmuxConfigFile { get; set; }
}

/// <summary>Checks <see cref="LauncherOptions"/> at start, with messages that say which setting to fix.</summary>
internal sealed partial class LauncherOptionsValidator : IValidateOptions<LauncherOptions>
{
    public ValidateOptionsResult Validate(string? name, LauncherOptions options)
    {
        var failures = new List<string>();
        if (!SocketName().IsMatch(options.TmuxSocketName ?? string.Empty))
        {
            failures.Add(LauncherOptions.Section + ":TmuxSocketName must be letters, digits, '.', '_' or '-' (it names a socket file); got '" + options.TmuxSocketName + "'.");
        }

        if (string.IsNullOrWhiteSpace(options.TmuxCommand))
        {
            failures.Add(LauncherOptions.Section + ":TmuxCommand must name the tmux program (default 'tmux').");
        }

        if (string.IsNullOrWhiteSpace(options.ClaudeCommand))
        {
            failures.Add(LauncherOptions.Section + ":ClaudeCommand must name the Claude Code program (default 'claude').");
        }

        if (options.ConfirmationTimeout < TimeSpan.FromSeconds(1) || options.ConfirmationTimeout > TimeSpan.FromMinutes(10))
        {
            failures.Add(LauncherOptions.Section + ":ConfirmationTimeout must be between 00:00:01 and 00:10:00; got " + options.ConfirmationTimeout + ".");
        }

        if (options.PollInterval < TimeSpan.FromMilliseconds(20) || options.PollInterval > TimeSpan.FromSeconds(5))
        {
            failures.Add(LauncherOptions.Section + ":PollInterval must be between 00:00:00.020 and 00:00:05; got " + options.PollInterval + ".");
        }

        if (options.WindowWidth is < 40 or > 1000 || options.WindowHeight is < 10 or > 1000)
        {
            failures.Add(LauncherOptions.Section + ":WindowWidth/WindowHeight must be 40-1000 columns and 10-1000 lines.");
        }

        if (options.PassEnvironment.Exists(v => string.IsNullOrEmpty(v) || v.Contains('=', StringComparison.Ordinal)))
        {
            failures.Add(LauncherOptions.Section + ":PassEnvironment lists variable names (no '=', none empty).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    [GeneratedRegex("^[A-Za-z0-9_.-]{1,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex SocketName();
}
