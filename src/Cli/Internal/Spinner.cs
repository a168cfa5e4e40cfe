using System.Diagnostics;

namespace Relay.Cli.Internal;

/// <summary>
/// Shows that relayctl is waiting. On a terminal stderr it animates one line (rewritten in place, erased at the end);
/// otherwise it writes its message once, so logs of scripts stay readable and stdout never sees it.
/// </summary>
internal sealed class Spinner : IAsyncDisposable
{
    private static readonly string[] Frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(120);

    private readonly TextWriter _error;
    private readonly string _message;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _animation;

    private Spinner(CliContext context, string message)
    {
        _error = context.Error;
        _message = message;
        _animation = context.ErrorIsTerminal ? AnimateAsync(context.Time, _stop.Token) : Once();
    }

    /// <summary>Starts showing <paramref name="message"/> on stderr until disposed.</summary>
    public static Spinner Start(CliContext context, string message) => new(context, message);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _animation;
        _stop.Dispose();
    }

    private Task Once()
    {
        _error.WriteLine(_message);
        return Task.CompletedTask;
    }

    private async Task AnimateAsync(TimeProvider time, CancellationToken cancellationToken)
    {
        var elapsed = Stopwatch.StartNew();
        try
        {
            for (var frame = 0; !cancellationToken.IsCancellationRequested; frame++)
            {
                await _error.WriteAsync(Ansi.ClearLine + Frames[frame % Frames.Length] + " " + _message + " " + (int)elapsed.Elapsed.TotalSeconds + "s");
                await _error.FlushAsync(CancellationToken.None);
                await Task.Delay(Interval, time, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped: the wait is over.
        }

        await _error.WriteAsync(Ansi.ClearLine);
        await _error.FlushAsync(CancellationToken.None);
    }
}
