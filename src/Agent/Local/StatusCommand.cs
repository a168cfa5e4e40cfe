using System.CommandLine;

namespace Relay.Agent.Local;

/// <summary><c>relay-agent status</c>.</summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var command = new Command("status", "Show the daemon's state.");
        command.SetAction(async (result, cancellationToken) =>
        {
            await result.InvocationConfiguration.Error.WriteLineAsync("relay-agent status: not built yet.");
            return 1;
        });
        return command;
    }
}
