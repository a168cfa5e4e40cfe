using System.Globalization;
using Microsoft.Extensions.Options;
using Relay.Agent.Install;
using Relay.Protocol.Local;

namespace Relay.Agent.Launch;

/// <summary>
/// Launches interactive Claude Code sessions in detached tmux sessions on Relay's own tmux server and stops them.
/// A launch is: check the directory and programs, pre-trust the workspace, start
/// <c>claude --dangerously-load-development-channels server:relay --session-id &lt;id&gt; &lt;args&gt;</c> with
/// <c>RELAY_LAUNCH_ID</c> in its environment, then watch the pane until Claude's prompt is up — answering the
/// development-channels confirmation on the way — and find Claude's process.
/// </summary>
internal sealed partial class TmuxLauncher : ISessionLauncher
{
    // Where a launched Claude must find the same agent as the launcher, and the usual basics. The tmux server keeps
    // the environment of whoever started it, which need not be this agent, so these are always passed explicitly.
    private static readonly string[] PassedVariables =
    [
        LocalAgentPaths.SocketVariable,
        LocalAgentPaths.ConfigDirectoryVariable,
        LocalAgentPaths.StateDirectoryVariable,
        "XDG_RUNTIME_DIR",
        "XDG_CONFIG_HOME",
        "XDG_STATE_HOME",
        "CLAUDE_CONFIG_DIR",
        "PATH",
        "HOME",
    ];

    // Variables that make a nested Claude behave as a child of another one (reference §3.5), and the one that would
    // let Claude negotiate an MCP revision without channel delivery (§1.7).
    private static readonly string[] RemovedVariables =
    [
        "CLAUDECODE",
        "CLAUDE_CODE_CHILD_SESSION",
        "CLAUDE_CODE_SESSION_ID",
        "CLAUDE_CODE_ENTRYPOINT",
        "CLAUDE_CODE_BRIDGE_SESSION_ID",
        "MCP_PROTOCOL_NEGOTIATION",
    ];

    // The confirmation can refuse keys that arrive the instant it opens; an answer that did not take is repeated.
    private static readonly TimeSpan AnswerRetryInterval = TimeSpan.FromSeconds(1);
    private const int MaxAnswers = 5;

    // A screen must be seen on two consecutive polls: a half-drawn frame is not a decision.
    private const int StableFrames = 2;

    private static readonly TimeSpan KillWait = TimeSpan.FromSeconds(5);

    private readonly LauncherOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Func<string, string?> _environment;

    public TmuxLauncher(IOptions<LauncherOptions> options, TimeProvider time, ILogger<TmuxLauncher> logger)
        : this(options.Value, time, logger, Environment.GetEnvironmentVariable)
    {
    }

    internal TmuxLauncher(LauncherOptions options, TimeProvider time, ILogger logger, Func<string, string?> environment)
    {
        _options = options;
        _time = time;
        _logger = logger;
        _environment = environment;
    }

    /// <inheritdoc />
    public async Task<LaunchOutcome> LaunchAsync(LaunchSpec spec, CancellationToken cancellationToken)
    {
        if (!Path.IsPathFullyQualified(spec.WorkingDirectory) || !Directory.Exists(spec.WorkingDirectory))
        {
            return Failed(spec, "The working directory " + spec.WorkingDirectory + " does not exist (it must be an absolute path to a directory).");
        }

        if (!Guid.TryParse(spec.ClaudeSessionId, out _))
        {
            return Failed(spec, "The Claude session id '" + spec.ClaudeSessionId + "' is not a UUID.");
        }

        if (ResolveTmux() is not { } tmux)
        {
            return Failed(spec, "tmux is not installed ('" + _options.TmuxCommand + "' is not on PATH). Install it (apt install tmux) or set " + LauncherOptions.Section + ":TmuxCommand.");
        }

        var path = _environment("PATH");
        if (ExecutableSearch.Find(_options.ClaudeCommand, path) is not { } claude)
        {
            return Failed(spec, "Claude Code was not found: '" + _options.ClaudeCommand + "' is not on PATH (" + path + "). Install it (npm install -g @anthropic-ai/claude-code) or set " + LauncherOptions.Section + ":ClaudeCommand to its path.");
        }

        string? sessionName = null;
        try
        {
            var stateFile = string.IsNullOrEmpty(_options.ClaudeStateFile) ? ClaudeConfigPaths.FromEnvironment(_environment).StateFile : _options.ClaudeStateFile;
            var projectKey = WorkspaceTrust.ProjectKey(spec.WorkingDirectory);
            if (WorkspaceTrust.Trust(stateFile, spec.WorkingDirectory))
            {
                LogTrusted(_logger, projectKey);
            }

            await PrepareServerAsync(tmux, cancellationToken).ConfigureAwait(false);
            sessionName = await ChooseSessionNameAsync(tmux, spec, cancellationToken).ConfigureAwait(false);
            var created = await tmux.RequireAsync(NewSessionArguments(spec, sessionName, claude), cancellationToken).ConfigureAwait(false);
            var (target, pane, panePid) = ParseCreated(created);
            LogStarted(_logger, spec.LaunchId, target, panePid);

            if (await WaitForPromptAsync(tmux, pane, cancellationToken).ConfigureAwait(false) is { } problem)
            {
                await tmux.KillSessionAsync(sessionName, CancellationToken.None).ConfigureAwait(false);
                return Failed(spec, problem);
            }

            var pid = FindClaude(panePid, spec.ClaudeSessionId);
            if (pid == 0)
            {
                await tmux.KillSessionAsync(sessionName, CancellationToken.None).ConfigureAwait(false);
                return Failed(spec, "Claude's process was not found under the tmux pane (pid " + panePid.ToString(CultureInfo.InvariantCulture) + ").");
            }

            // From now on the session ends with Claude; remain-on-exit was only there to read a failed start.
            await tmux.RequireAsync(["set-option", "-w", "-t", pane, "remain-on-exit", "off"], cancellationToken).ConfigureAwait(false);
            LogLaunched(_logger, spec.LaunchId, target, pid);
            var startScreen = await tmux.CapturePaneAsync(pane, cancellationToken, historyLines: 200).ConfigureAwait(false);
            var channelsRefused = ClaudeScreen.ChannelsRefused(startScreen);
            if (channelsRefused)
            {
                LogChannelsRefused(_logger, spec.LaunchId, target);
            }

            return new LaunchOutcome(true, null, pid, target, _time.GetUtcNow()) { ChannelsRefused = channelsRefused };
        }
        catch (OperationCanceledException)
        {
            if (sessionName is not null)
            {
                await tmux.KillSessionAsync(sessionName, CancellationToken.None).ConfigureAwait(false);
            }

            throw;
        }
        catch (Exception ex) when (ex is TmuxException or TimeoutException or InstallException or IOException or UnauthorizedAccessException)
        {
            if (sessionName is not null)
            {
                await tmux.KillSessionAsync(sessionName, CancellationToken.None).ConfigureAwait(false);
            }

            return Failed(spec, ex.Message);
        }
    }

    /// <inheritdoc />
    public async Task<StopOutcome> StopAsync(StopSpec spec, CancellationToken cancellationToken)
    {
        var pid = spec.ClaudePid;
        var tmux = ResolveTmux();
        var session = spec.TmuxTarget is { Length: > 0 } t ? t.Split(':', 2)[0].TrimStart('=') : null;
        if (pid <= 0 || !LinuxProcess.IsAlive(pid))
        {
            await CloseSessionAsync(tmux, session).ConfigureAwait(false);
            return new StopOutcome(true, null, _time.GetUtcNow());
        }

        var commandLine = LinuxProcess.CommandLine(pid);
        if (!LooksLikeClaude(commandLine))
        {
            return new StopOutcome(false, "Process " + pid.ToString(CultureInfo.InvariantCulture) + " is not Claude Code (" + string.Join(' ', commandLine) + "); nothing was stopped.", _time.GetUtcNow());
        }

        var started = LinuxProcess.StartTicks(pid);
        bool Gone() => !LinuxProcess.IsAlive(pid) || LinuxProcess.StartTicks(pid) != started;

        if (!spec.Force)
        {
            var grace = spec.GracePeriod > TimeSpan.Zero ? spec.GracePeriod : TimeSpan.FromSeconds(10);
            // Politely first: /exit is what a person would type (Claude runs its SessionEnd hooks); SIGTERM at half
            // time also ends it cleanly when the input box is busy (a dialog, a running turn).
            if (tmux is not null && session is not null && await TypeExitAsync(tmux, spec.TmuxTarget!, cancellationToken).ConfigureAwait(false))
            {
                if (await WaitUntilAsync(Gone, grace / 2, cancellationToken).ConfigureAwait(false))
                {
                    LogStopped(_logger, pid, "/exit");
                    await CloseSessionAsync(tmux, session).ConfigureAwait(false);
                    return new StopOutcome(true, null, _time.GetUtcNow());
                }

                grace /= 2;
            }

            LinuxProcess.Signal(pid, kill: false);
            if (await WaitUntilAsync(Gone, grace, cancellationToken).ConfigureAwait(false))
            {
                LogStopped(_logger, pid, "SIGTERM");
                await CloseSessionAsync(tmux, session).ConfigureAwait(false);
                return new StopOutcome(true, null, _time.GetUtcNow());
            }
        }

        if (!Gone())
        {
            LinuxProcess.Signal(pid, kill: true);
        }

        var gone = await WaitUntilAsync(Gone, KillWait, cancellationToken).ConfigureAwait(false);
        LogStopped(_logger, pid, "SIGKILL");
        await CloseSessionAsync(tmux, session).ConfigureAwait(false);
        return gone
            ? new StopOutcome(true, null, _time.GetUtcNow())
            : new StopOutcome(false, "Process " + pid.ToString(CultureInfo.InvariantCulture) + " survived SIGKILL for " + KillWait.TotalSeconds + " s.", _time.GetUtcNow());
    }

    /// <summary>True when <paramref name="commandLine"/> is a Claude Code process (the binary, or node running its script).</summary>
    internal static bool LooksLikeClaude(IReadOnlyList<string> commandLine) =>
        commandLine.Take(3).Any(a => Path.GetFileName(a).Contains("claude", StringComparison.OrdinalIgnoreCase) ||
                                     a.Contains("claude-code", StringComparison.OrdinalIgnoreCase));

    private TmuxClient? ResolveTmux()
    {
        if (ExecutableSearch.Find(_options.TmuxCommand, _environment("PATH")) is not { } path)
        {
            return null;
        }

        var config = string.IsNullOrEmpty(_options.TmuxConfigFile)
            ? Path.Combine(LocalAgentPaths.StateDirectory(_environment), "tmux.conf")
            : _options.TmuxConfigFile;
        return new TmuxClient(path, _options.TmuxSocketName, config);
    }

    // Relay's tmux server keeps dead panes until told otherwise, so a Claude that exits at once leaves its last words
    // on screen for the error message. The config applies when a launch starts the server; set-option covers a
    // server that is already running.
    private async Task PrepareServerAsync(TmuxClient tmux, CancellationToken cancellationToken)
    {
        var config = string.IsNullOrEmpty(_options.TmuxConfigFile)
            ? Path.Combine(LocalAgentPaths.StateDirectory(_environment), "tmux.conf")
            : _options.TmuxConfigFile;
        var text = "# Written by relay-agent for its own tmux server (tmux -L " + _options.TmuxSocketName + ").\n" +
                   (_options.SourceUserTmuxConfig ? "source-file -q ~/.tmux.conf\n" : string.Empty) +
                   "set -g remain-on-exit on\n";
        if (!File.Exists(config) || await File.ReadAllTextAsync(config, cancellationToken).ConfigureAwait(false) != text)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(config)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            await File.WriteAllTextAsync(config, text, cancellationToken).ConfigureAwait(false);
        }

        // Fails with "no server running" when there is none yet: then the config above does it.
        await tmux.RunAsync(["set-option", "-g", "remain-on-exit", "on"], cancellationToken).ConfigureAwait(false);
    }

    private static async Task<string> ChooseSessionNameAsync(TmuxClient tmux, LaunchSpec spec, CancellationToken cancellationToken)
    {
        var preferred = TmuxSessionName.Preferred(spec.Name, spec.LaunchId);
        return await tmux.HasSessionAsync(preferred, cancellationToken).ConfigureAwait(false)
            ? TmuxSessionName.Unique(spec.Name, spec.LaunchId)
            : preferred;
    }

    private List<string> NewSessionArguments(LaunchSpec spec, string sessionName, string claude)
    {
        var arguments = new List<string>
        {
            "new-session", "-d", "-P", "-F", "#{session_name}:#{window_index} #{pane_id} #{pane_pid}",
            "-s", sessionName,
            "-c", spec.WorkingDirectory,
            "-x", _options.WindowWidth.ToString(CultureInfo.InvariantCulture),
            "-y", _options.WindowHeight.ToString(CultureInfo.InvariantCulture),
            "-e", LocalAgentPaths.LaunchIdVariable + "=" + spec.LaunchId,
        };
        foreach (var name in PassedVariables.Concat(_options.PassEnvironment).Distinct(StringComparer.Ordinal))
        {
            if (_environment(name) is { } value)
            {
                arguments.Add("-e");
                arguments.Add(name + "=" + value);
            }
        }

        // Given as separate arguments, tmux (3.0+) runs the command directly, without a shell. env(1) removes the
        // nested-session variables and then execs claude, so the pane's process is Claude itself.
        arguments.Add("--");
        arguments.Add(ExecutableSearch.Find("env", _environment("PATH")) ?? "/usr/bin/env");
        foreach (var name in RemovedVariables)
        {
            arguments.Add("-u");
            arguments.Add(name);
        }

        arguments.Add(claude);
        // The development-channels flag is variadic: it is followed by --session-id so that it cannot swallow a
        // positional argument among the user's (reference §1.7).
        arguments.Add("--dangerously-load-development-channels");
        arguments.Add("server:" + RelayEntries.McpServerName);
        arguments.Add("--session-id");
        arguments.Add(spec.ClaudeSessionId);
        arguments.AddRange(spec.ClaudeArguments);
        return arguments;
    }

    private static (string Target, string Pane, int PanePid) ParseCreated(string output)
    {
        var parts = output.Trim().Split(' ');
        return parts.Length == 3 && int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            ? (parts[0], parts[1], pid)
            : throw new TmuxException("tmux new-session printed '" + output.Trim() + "', not the session it made.");
    }

    // Returns null when Claude's prompt is up, or the reason it is not.
    private async Task<string?> WaitForPromptAsync(TmuxClient tmux, string pane, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(_options.ConfirmationTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        using var timer = new PeriodicTimer(_options.PollInterval, _time);
        string? screen = null;
        int ready = 0, blocked = 0, answers = 0, deadWithoutStatus = 0;
        long lastAnswer = 0;
        try
        {
            do
            {
                var state = await tmux.PaneStateAsync(pane, cancellationToken).ConfigureAwait(false);
                screen = await tmux.CapturePaneAsync(pane, cancellationToken).ConfigureAwait(false) ?? screen;
                if (state is null)
                {
                    return "Claude exited at once (its tmux session is gone).";
                }

                // tmux may see the pty close before it reaps the process: give the exit status a few polls to appear
                // (it never does for a child that exits before its pane is fully set up).
                if (state.Value.Dead && state.Value.Status.Length == 0 && ++deadWithoutStatus < StableFrames * 5)
                {
                    continue;
                }

                if (state.Value.Dead)
                {
                    // With history: the dead-pane notice can push the last output off the visible screen.
                    screen = await tmux.CapturePaneAsync(pane, cancellationToken, historyLines: 200).ConfigureAwait(false) ?? screen;
                    return "Claude exited at once (exit status " + (state.Value.Status.Length > 0 ? state.Value.Status : "unknown") + "). Last lines:\n" + ClaudeScreen.LastLines(screen);
                }

                var seen = ClaudeScreen.Classify(screen);
                ready = seen.Kind == ClaudeScreenKind.Ready ? ready + 1 : 0;
                blocked = seen.Kind == ClaudeScreenKind.Blocked ? blocked + 1 : 0;
                if (ready >= StableFrames)
                {
                    return null;
                }

                if (blocked >= StableFrames)
                {
                    return seen.Hint + " Last lines:\n" + ClaudeScreen.LastLines(screen);
                }

                if (seen.Kind == ClaudeScreenKind.DevelopmentChannelsDialog && (answers == 0 || _time.GetElapsedTime(lastAnswer) >= AnswerRetryInterval))
                {
                    if (answers == MaxAnswers)
                    {
                        return "The development-channels confirmation did not accept Enter after " + MaxAnswers.ToString(CultureInfo.InvariantCulture) + " tries. Last lines:\n" + ClaudeScreen.LastLines(screen);
                    }

                    await tmux.RequireAsync(["send-keys", "-t", pane, "Enter"], cancellationToken).ConfigureAwait(false);
                    answers++;
                    lastAnswer = _time.GetTimestamp();
                    LogAnswered(_logger, pane, answers);
                }
            }
            while (await timer.WaitForNextTickAsync(linked.Token).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            // Fall through to the timeout message.
        }

        return "Claude did not reach its prompt within " + _options.ConfirmationTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture) +
               " s (" + LauncherOptions.Section + ":ConfirmationTimeout). Last lines:\n" + ClaudeScreen.LastLines(screen);
    }

    // The pane runs env, which execs claude, so the pane's pid normally is Claude; a wrapper script or a shell
    // (a user's default-command) puts it one or two levels below. The session id in its argv proves it is ours.
    private static int FindClaude(int panePid, string sessionId)
    {
        var level = new List<int> { panePid };
        for (var depth = 0; depth < 4 && level.Count > 0; depth++)
        {
            foreach (var pid in level)
            {
                var argv = LinuxProcess.CommandLine(pid);
                var index = argv.ToList().IndexOf("--session-id");
                if (index >= 0 && index + 1 < argv.Count && argv[index + 1] == sessionId && !IsEnv(argv) && LinuxProcess.IsAlive(pid))
                {
                    return pid;
                }
            }

            level = level.SelectMany(LinuxProcess.Children).ToList();
        }

        return 0;
    }

    private static bool IsEnv(IReadOnlyList<string> argv) => argv.Count > 0 && Path.GetFileName(argv[0]) == "env";

    private async Task<bool> TypeExitAsync(TmuxClient tmux, string target, CancellationToken cancellationToken)
    {
        // C-u clears whatever is in the input box, so "/exit" is not appended to someone's half-typed prompt.
        if (!(await tmux.RunAsync(["send-keys", "-t", target, "C-u"], cancellationToken).ConfigureAwait(false)).Succeeded ||
            !(await tmux.RunAsync(["send-keys", "-t", target, "-l", "/exit"], cancellationToken).ConfigureAwait(false)).Succeeded)
        {
            return false;
        }

        // Enter only once the text is on screen: sent together, a TUI may take "/exit\r" as a paste.
        await WaitUntilAsync(
            async () => (await tmux.CapturePaneAsync(target, cancellationToken).ConfigureAwait(false))?.Contains("/exit", StringComparison.Ordinal) == true,
            TimeSpan.FromSeconds(2),
            cancellationToken).ConfigureAwait(false);
        return (await tmux.RunAsync(["send-keys", "-t", target, "Enter"], cancellationToken).ConfigureAwait(false)).Succeeded;
    }

    private Task<bool> WaitUntilAsync(Func<bool> condition, TimeSpan limit, CancellationToken cancellationToken) =>
        WaitUntilAsync(() => Task.FromResult(condition()), limit, cancellationToken);

    private async Task<bool> WaitUntilAsync(Func<Task<bool>> condition, TimeSpan limit, CancellationToken cancellationToken)
    {
        if (await condition().ConfigureAwait(false))
        {
            return true;
        }

        using var deadline = new CancellationTokenSource(limit, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        using var timer = new PeriodicTimer(_options.PollInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(linked.Token).ConfigureAwait(false))
            {
                if (await condition().ConfigureAwait(false))
                {
                    return true;
                }
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
        }

        return await condition().ConfigureAwait(false);
    }

    private static async Task CloseSessionAsync(TmuxClient? tmux, string? session)
    {
        if (tmux is not null && session is not null)
        {
            await tmux.KillSessionAsync(session, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private LaunchOutcome Failed(LaunchSpec spec, string error)
    {
        LogFailed(_logger, spec.LaunchId, error);
        return new LaunchOutcome(false, error, 0, string.Empty, _time.GetUtcNow());
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Pre-trusted workspace {ProjectKey} in Claude Code's state file")]
    private static partial void LogTrusted(ILogger logger, string projectKey);

    [LoggerMessage(Level = LogLevel.Information, Message = "Launch {LaunchId}: tmux session {Target} started (pane pid {PanePid})")]
    private static partial void LogStarted(ILogger logger, string launchId, string target, int panePid);

    [LoggerMessage(Level = LogLevel.Information, Message = "Answered the development-channels confirmation in pane {Pane} (try {Attempt})")]
    private static partial void LogAnswered(ILogger logger, string pane, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Launch {LaunchId}: Claude is running in {Target} as pid {Pid}")]
    private static partial void LogLaunched(ILogger logger, string launchId, string target, int pid);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Launch {LaunchId}: Claude in {Target} ignored the development-channels flag (its channels feature is off); prompts for it go through hooks")]
    private static partial void LogChannelsRefused(ILogger logger, string launchId, string target);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Launch {LaunchId} failed: {Error}")]
    private static partial void LogFailed(ILogger logger, string launchId, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopped Claude pid {Pid} with {How}")]
    private static partial void LogStopped(ILogger logger, int pid, string how);
}
