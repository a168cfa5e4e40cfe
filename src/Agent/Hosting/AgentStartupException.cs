namespace Relay.Agent.Hosting;

/// <summary>The daemon cannot start; the message says why and how to fix it.</summary>
/// <param name="message">One line for the user.</param>
/// <param name="exitCode">1 for a runtime condition (another agent runs), 2 for a configuration the user must fix.</param>
internal sealed class AgentStartupException(string message, int exitCode) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
