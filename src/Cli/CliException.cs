namespace Relay.Cli;

/// <summary>A failure relayctl explains in one line on stderr and turns into <see cref="ExitCode"/>.</summary>
internal sealed class CliException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
