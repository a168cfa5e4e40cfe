using System.Runtime.InteropServices;

namespace Relay.Cli.Internal;

/// <summary>
/// Ctrl-C and SIGTERM: the first one cancels <see cref="Token"/> so the running command can finish cleanly (watch exits
/// 0 and prints its resume cursor; other commands report "interrupted", exit code 130); a second one terminates at once.
/// relayctl handles these itself because System.CommandLine's handler answers with exit code 130 even when the command
/// finished cleanly in time.
/// </summary>
internal sealed class Interrupts : IDisposable
{
    private readonly CancellationTokenSource _cancel = new();
    private readonly PosixSignalRegistration[] _registrations;

    private Interrupts() =>
        _registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal), PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal)];

    public CancellationToken Token => _cancel.Token;

    public static Interrupts Register() => new();

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }

        _cancel.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        if (_cancel.IsCancellationRequested)
        {
            return; // The second signal: let the default handling end the process.
        }

        context.Cancel = true;
        _cancel.Cancel();
    }
}
