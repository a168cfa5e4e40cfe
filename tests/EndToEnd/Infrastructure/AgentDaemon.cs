using System.Diagnostics;

namespace Relay.EndToEnd.Tests.Infrastructure;

/// <summary>
/// One <c>relay-agent run</c> process (the binary copied beside the tests) with a machine's environment. It can be
/// SIGKILLed (<see cref="KillAsync"/>) and started again on the same directories, as after a crash.
/// </summary>
internal sealed class AgentDaemon(IReadOnlyDictionary<string, string?> environment) : IAsyncDisposable
{
    private const string ListeningLine = "relay-agent listening:";
    private const string ConnectedLine = "Connected to broker";

    private readonly List<string> _log = [];
    private Process? _process;
    private Task? _pump;
    private TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Starts the daemon and waits until its socket and hook endpoint listen (and, when asked, its broker link is up).</summary>
    public async Task StartAsync(bool waitForBroker, CancellationToken cancellationToken)
    {
        _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "relay-agent.dll"));
        start.ArgumentList.Add("run");
        // The machine's environment is complete (ClaudeCodeEnvironment): nothing of the test process's CLAUDE*/XDG_* leaks in.
        start.Environment.Clear();
        foreach (var (name, value) in environment)
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
        _process = process;
        var listening = _listening;
        _pump = Task.WhenAll(PumpAsync(process.StandardOutput), PumpAsync(process.StandardError));
        _ = process.WaitForExitAsync(CancellationToken.None).ContinueWith(
            _ => listening.TrySetException(new InvalidOperationException("relay-agent run exited:\n" + Log())),
            TaskScheduler.Default);
        await _listening.Task.WaitAsync(cancellationToken);
        if (waitForBroker)
        {
            await WaitForBrokerAsync(cancellationToken);
        }
    }

    /// <summary>Waits until the daemon logs that its broker link (re)connected after the last start or <see cref="ResetConnected"/>.</summary>
    public Task WaitForBrokerAsync(CancellationToken cancellationToken) => _connected.Task.WaitAsync(cancellationToken);

    /// <summary>Forget the last "connected" line, so that <see cref="WaitForBrokerAsync"/> waits for the next one.</summary>
    public void ResetConnected() => _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>SIGKILL: no drain, no goodbye, as after a crash.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }

        await EndAsync();
    }

    public string Log()
    {
        lock (_log)
        {
            return string.Join('\n', _log.TakeLast(60));
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } process)
        {
            // SIGTERM, so the daemon closes its spool and socket cleanly.
            using (var term = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!)
            {
                await term.WaitForExitAsync();
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await process.WaitForExitAsync(timeout.Token).ContinueWith(_ => { }, TaskScheduler.Default);
        }

        await EndAsync();
    }

    private async Task EndAsync()
    {
        if (_pump is not null)
        {
            await _pump;
            _pump = null;
        }

        _process?.Dispose();
        _process = null;
    }

    private async Task PumpAsync(StreamReader reader)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (_log)
            {
                _log.Add(line);
            }

            if (line.Contains(ListeningLine, StringComparison.Ordinal))
            {
                _listening.TrySetResult();
            }
            else if (line.Contains(ConnectedLine, StringComparison.Ordinal))
            {
                _connected.TrySetResult();
            }
        }
    }
}
