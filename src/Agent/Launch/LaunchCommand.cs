using System.CommandLine;

namespace Relay.Agent.Launch;

/// <summary><c>relay-agent launch</c>.</summary>
internal static class LaunchCommand
{
    public static Command Create()
    {
        var command = new Command("launch", "Start Claude Code in tmux.");
        command.SetAction(async (result, cancellationToken) =>
        {
            await result.InvocationConfiguration.Error.WriteLineAsync("relay-agent launch: not built yet.");
            return 1;
        });
        return command;
    }
}
