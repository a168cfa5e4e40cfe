using System.Diagnostics;

namespace Relay.Agent.Launch;

/// <summary>The result of one tmux command.</summary>
internal sealed record TmuxResult(int ExitCode, string Output, string Error)
{
    public bool Succeeded => ExitCode == 0;
}

/// <summary>
/// Runs tmux commands against Relay's own tmux server (<c>tmux -L &lt;socket&gt;</c>). Every command is a separate
/// tmux client invocation with its arguments passed as an argv array (no shell, no quoting).
/// </summary>
internal sealed class TmuxClient(string tmuxPath, string socketName, string configFile)
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The socket name.</summary>
    public string SocketName { get; } = socketName;

    /// <summary>Runs <c>tmux -L socket -f config &lt;arguments&gt;</c>.</summary>
    /// <exception cref="TimeoutException">tmux did not answer within ten seconds.</exception>
    public async Task<TmuxResult> RunAsync(IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(tmuxPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-L");
        start.ArgumentList.Add(SocketName);
        // -f only matters when this command starts the server; it is harmless otherwise.
        start.ArgumentList.Add("-f");
        start.ArgumentList.Add(configFile);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("tmux did not start.");
        process.StandardInput.Close();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(CommandTimeout);
        try
        {
            var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var error = process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            return new TmuxResult(process.ExitCode, await output.ConfigureAwait(false), await error.ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("tmux " + string.Join(' ', start.ArgumentList) + " did not finish within " + CommandTimeout.TotalSeconds + " s.");
        }
    }

    /// <summary>Runs a tmux command and returns its output.</summary>
    /// <exception cref="TmuxException">tmux failed.</exception>
    public async Task<string> RequireAsync(IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var list = arguments.ToList();
        var result = await RunAsync(list, cancellationToken).ConfigureAwait(false);
        return result.Succeeded
            ? result.Output
            : throw new TmuxException("tmux " + list[0] + " failed: " + (result.Error.Trim() is { Length: > 0 } e ? e : "exit code " + result.ExitCode) + ".");
    }

    /// <summary>
    /// The visible screen of <paramref name="target"/> (and up to <paramref name="historyLines"/> lines of scrollback
    /// above it), or null when the target is gone.
    /// </summary>
    public async Task<string?> CapturePaneAsync(string target, CancellationToken cancellationToken, int historyLines = 0)
    {
        var result = await RunAsync(
            ["capture-pane", "-p", "-J", "-S", (-historyLines).ToString(System.Globalization.CultureInfo.InvariantCulture), "-t", target],
            cancellationToken).ConfigureAwait(false);
        return result.Succeeded ? result.Output : null;
    }

    /// <summary>Whether the pane's process has exited (the pane is kept by remain-on-exit), with its status; null when the pane is gone.</summary>
    public async Task<(bool Dead, string Status)?> PaneStateAsync(string target, CancellationToken cancellationToken)
    {
        var result = await RunAsync(["display-message", "-p", "-t", target, "#{pane_dead} #{pane_dead_status}"], cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            return null;
        }

        var parts = result.Output.Trim().Split(' ', 2);
        return (parts[0] == "1", parts.Length > 1 ? parts[1] : string.Empty);
    }

    /// <summary>True when a session named exactly <paramref name="name"/> exists.</summary>
    public async Task<bool> HasSessionAsync(string name, CancellationToken cancellationToken) =>
        (await RunAsync(["has-session", "-t", "=" + name], cancellationToken).ConfigureAwait(false)).Succeeded;

    /// <summary>Kills the session named exactly <paramref name="name"/>, if it exists.</summary>
    public Task KillSessionAsync(string name, CancellationToken cancellationToken) =>
        RunAsync(["kill-session", "-t", "=" + name], cancellationToken);
}

/// <summary>A tmux command failed.</summary>
internal sealed class TmuxException(string message) : Exception(message);
