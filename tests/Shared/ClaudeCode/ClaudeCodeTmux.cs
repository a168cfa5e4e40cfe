using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace Relay.Tests.Shared.ClaudeCode;

/// <summary>
/// Interactive <c>claude</c> in a detached tmux session on a private server (<c>tmux -L &lt;unique name&gt;</c>), with
/// the first-run screens pre-answered in <c>~/.claude.json</c> (<see cref="ClaudeCodeHome.PreApproveInteractive"/>).
/// Tests read the screen with <see cref="CapturePaneAsync"/>, wait for text with <see cref="WaitForTextAsync"/> and
/// type with <see cref="SendKeysAsync"/> / <see cref="SendTextAsync"/>. Disposing kills the tmux server.
/// </summary>
public sealed class ClaudeCodeTmux : IAsyncDisposable
{
    private const string SessionName = "claude";

    /// <summary>
    /// Shown in the footer under the prompt box once Claude Code 2.1.328 is ready for input (the permission-mode line,
    /// e.g. "⏵⏵ auto mode on (shift+tab to cycle)"; interactive sessions start in auto mode).
    /// </summary>
    public const string PromptReadyText = "shift+tab to cycle";

    private ClaudeCodeTmux(string socketName, Guid sessionId)
    {
        SocketName = socketName;
        SessionId = sessionId;
    }

    /// <summary>The tmux server name (<c>-L</c>), unique per instance.</summary>
    public string SocketName { get; }

    /// <summary>Claude's <c>--session-id</c>.</summary>
    public Guid SessionId { get; }

    /// <summary>
    /// Starts <c>claude</c> (no <c>-p</c>) in a 200x50 pane. A non-empty <see cref="ClaudeCodeRunOptions.Prompt"/> is
    /// passed as the positional first prompt, last on the command line (mind variadic flags such as
    /// <c>--dangerously-load-development-channels</c> in <see cref="ClaudeCodeRunOptions.ExtraArguments"/>: they would
    /// swallow it). When Claude exits the pane stays and shows <c>[claude exited with N]</c>.
    /// </summary>
    public static async Task<ClaudeCodeTmux> StartAsync(
        ClaudeCodeHome home, Uri apiBaseUrl, ClaudeCodeRunOptions options, CancellationToken cancellationToken = default)
    {
        home.PreApproveInteractive(ClaudeCodeEnvironment.ApiKey, options.WorkingDirectory ?? home.ProjectDirectory);
        var env = ClaudeCodeEnvironment.Build(home, apiBaseUrl, options.Environment);
        env["TERM"] = "xterm-256color";

        // A launch script carries the environment and arguments verbatim (no tmux quoting or env inheritance rules).
        var script = new StringBuilder("#!/bin/sh\n");
        foreach (var (name, value) in env.Where(e => IsShellName(e.Key)))
        {
            script.Append(CultureInvariant($"export {name}={Quote(value)}\n"));
        }

        script.Append(CultureInvariant($"cd {Quote(options.WorkingDirectory ?? home.ProjectDirectory)} || exit 1\n"));
        script.Append(Quote(ClaudeCodeInstallation.EntryPoint));
        foreach (var arg in ClaudeCodeCli.BuildArguments(home, options, printMode: false))
        {
            script.Append(' ').Append(Quote(arg));
        }

        if (!string.IsNullOrEmpty(options.Prompt))
        {
            script.Append(' ').Append(Quote(options.Prompt));
        }

        script.Append("\necho \"[claude exited with $?]\"\nexec sleep 86400\n");
        var launcher = home.PathFor($"tmux-launch-{Guid.NewGuid():N}.sh");
        await File.WriteAllTextAsync(launcher, script.ToString(), cancellationToken);
        File.SetUnixFileMode(launcher, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        var tmux = new ClaudeCodeTmux("relay-test-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5)), options.SessionId);
        await tmux.RunTmuxAsync(cancellationToken, "new-session", "-d", "-s", SessionName, "-x", "200", "-y", "50", launcher);
        return tmux;
    }

    /// <summary>The visible pane text.</summary>
    public Task<string> CapturePaneAsync(CancellationToken cancellationToken = default) =>
        RunTmuxAsync(cancellationToken, "capture-pane", "-p", "-t", SessionName);

    /// <summary>
    /// Polls the pane (every 100 ms; there is no event to wait on) until it contains <paramref name="text"/>.
    /// Throws <see cref="TimeoutException"/> with the last screen after <paramref name="timeout"/>.
    /// </summary>
    public async Task<string> WaitForTextAsync(string text, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var stopwatch = Stopwatch.StartNew();
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        var screen = string.Empty;
        while (stopwatch.Elapsed < timeout)
        {
            screen = await CapturePaneAsync(cancellationToken);
            if (screen.Contains(text, StringComparison.Ordinal))
            {
                return screen;
            }

            await timer.WaitForNextTickAsync(cancellationToken);
        }

        throw new TimeoutException($"The tmux pane did not show \"{text}\" within {timeout.TotalSeconds:F0} s. Last screen:\n{screen}");
    }

    /// <summary>Sends tmux key names (e.g. <c>Enter</c>, <c>Escape</c>, <c>C-c</c>, <c>Down</c>).</summary>
    public async Task SendKeysAsync(CancellationToken cancellationToken, params string[] keys) =>
        await RunTmuxAsync(cancellationToken, ["send-keys", "-t", SessionName, .. keys]);

    /// <summary>Types <paramref name="text"/> literally (no key-name interpretation).</summary>
    public async Task SendTextAsync(string text, CancellationToken cancellationToken = default) =>
        await RunTmuxAsync(cancellationToken, "send-keys", "-t", SessionName, "-l", text);

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            // Claude writes ~/.claude.json (and a backup) as it exits on the hang-up: wait for the pane's process to be
            // gone, so the test's HOME can be deleted after this returns.
            var panePid = int.Parse((await RunTmuxAsync(timeout.Token, "display-message", "-p", "-t", SessionName, "#{pane_pid}")).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            var children = ChildProcesses(panePid);
            await RunTmuxAsync(timeout.Token, "kill-server");
            foreach (var pid in children.Prepend(panePid))
            {
                await WaitForExitAsync(pid, timeout.Token);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        catch (FormatException)
        {
            // No pane left.
        }
        catch (OperationCanceledException)
        {
            // Best effort.
        }
    }

    // The pane runs the launch script, whose child is claude.
    private static List<int> ChildProcesses(int parent)
    {
        var path = $"/proc/{parent}/task/{parent}/children";
        return File.Exists(path)
            ? File.ReadAllText(path).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(p => int.Parse(p, System.Globalization.CultureInfo.InvariantCulture)).ToList()
            : [];
    }

    private static async Task WaitForExitAsync(int pid, CancellationToken cancellationToken)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (ArgumentException)
        {
            // Already exited.
        }
    }

    private async Task<string> RunTmuxAsync(CancellationToken cancellationToken, params string[] args)
    {
        var start = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-L");
        start.ArgumentList.Add(SocketName);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // The tmux server is started by new-session and inherits this environment; keep the outer tmux out of it.
        start.Environment.Remove("TMUX");
        using var process = Process.Start(start) ?? throw new InvalidOperationException("tmux did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"tmux {string.Join(' ', args)} failed ({process.ExitCode}): {await stderr}");
        }

        return await stdout;
    }

    private static bool IsShellName(string name) =>
        name.Length > 0 && !char.IsAsciiDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    private static string Quote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static string CultureInvariant(FormattableString s) => FormattableString.Invariant(s);
}
