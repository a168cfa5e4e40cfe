using System.Text;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Cli.Tests.Infrastructure;

/// <summary>What one relayctl invocation printed and returned.</summary>
internal sealed record CliResult(int ExitCode, string Stdout, string Stderr);

/// <summary>
/// Runs relayctl in-process through <see cref="RelayCtl.BuildRootCommand"/> with its own writers, environment and
/// config directory, so tests never touch the real console, environment or home directory.
/// </summary>
internal sealed class CliHarness : IDisposable
{
    private readonly TempDirectory _home = new("relay-cli-home-");

    public CliHarness()
    {
        Directory.CreateDirectory(_home.Path);
        Environment["XDG_CONFIG_HOME"] = ConfigHome;
    }

    /// <summary>The environment relayctl sees (nothing from the real process).</summary>
    public Dictionary<string, string> Environment { get; } = new(StringComparer.Ordinal);

    /// <summary>Pretend stdout is a terminal (colour).</summary>
    public bool OutputIsTerminal { get; set; }

    /// <summary>Pretend stderr is a terminal (spinners).</summary>
    public bool ErrorIsTerminal { get; set; }

    public string ConfigHome => Path.Combine(_home.Path, "config");

    public string ProfilePath => Path.Combine(ConfigHome, "relay", "relayctl.json");

    /// <summary>A scratch directory for files a test hands to relayctl.</summary>
    public string FilePath(string name) => Path.Combine(_home.Path, name);

    public async Task<CliResult> RunAsync(params string[] args) => await RunWithInputAsync(string.Empty, args);

    public async Task<CliResult> RunWithInputAsync(string stdin, params string[] args)
    {
        using var timeout = TestTimeout.Start();
        await using var running = Start(stdin, args, timeout.Token);
        return await running.Completion;
    }

    /// <summary>Starts relayctl and returns at once, for commands that run until cancelled (watch).</summary>
    public RunningCli Start(string stdin, string[] args, CancellationToken cancellationToken)
    {
        var output = new LiveWriter();
        var error = new LiveWriter();
        var context = new CliContext(output, error, new StringReader(stdin), name => Environment.GetValueOrDefault(name))
        {
            OutputIsTerminal = OutputIsTerminal,
            ErrorIsTerminal = ErrorIsTerminal,
        };
        return new RunningCli(context, output, error, args, cancellationToken);
    }

    public void Dispose() => _home.Dispose();
}

/// <summary>A relayctl invocation in progress: its output so far, and a way to press Ctrl-C (cancel its token).</summary>
internal sealed class RunningCli : IAsyncDisposable
{
    private readonly CancellationTokenSource _interrupt;

    public RunningCli(CliContext context, LiveWriter output, LiveWriter error, string[] args, CancellationToken cancellationToken)
    {
        Output = output;
        Error = error;
        _interrupt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Completion = RunAsync(context, args);
    }

    public LiveWriter Output { get; }

    public LiveWriter Error { get; }

    public Task<CliResult> Completion { get; }

    /// <summary>What Ctrl-C does: System.CommandLine cancels the action's token.</summary>
    public async Task<CliResult> InterruptAsync()
    {
        await _interrupt.CancelAsync();
        return await Completion;
    }

    public async ValueTask DisposeAsync()
    {
        await _interrupt.CancelAsync();
        try
        {
            await Completion;
        }
        catch (OperationCanceledException)
        {
            // Already reported by the test that awaited it.
        }

        _interrupt.Dispose();
    }

    private async Task<CliResult> RunAsync(CliContext context, string[] args)
    {
        await Task.Yield();
        var exitCode = await RelayCtl.InvokeAsync(RelayCtl.BuildRootCommand(context), args, context, _interrupt.Token);
        return new CliResult(exitCode, Output.Text, Error.Text);
    }
}

/// <summary>A thread-safe writer whose text can be awaited: tests wait for a line instead of sleeping.</summary>
internal sealed class LiveWriter : TextWriter
{
    private readonly StringBuilder _text = new();
    private readonly Lock _lock = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override Encoding Encoding => Encoding.UTF8;

    public string Text
    {
        get
        {
            lock (_lock)
            {
                return _text.ToString();
            }
        }
    }

    public override void Write(char value)
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            _text.Append(value);
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    public override void Write(string? value)
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            _text.Append(value);
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    public override void WriteLine(string? value) => Write(value + new string(CoreNewLine));

    /// <summary>Waits until the text so far satisfies <paramref name="condition"/>; returns the text.</summary>
    public async Task<string> WaitForAsync(Func<string, bool> condition, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            string text;
            lock (_lock)
            {
                text = _text.ToString();
                changed = _changed.Task;
            }

            if (condition(text))
            {
                return text;
            }

            await changed.WaitAsync(cancellationToken);
        }
    }
}
