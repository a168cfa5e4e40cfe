using System.CommandLine;

namespace Relay.Agent.Hooks;

/// <summary><c>relay-agent hook</c>.</summary>
internal static class HookCommand
{
    public static Command Create()
    {
        var command = new Command("hook", "The SessionStart command hook client.");
        command.SetAction(async (result, cancellationToken) =>
        {
            await result.InvocationConfiguration.Error.WriteLineAsync("relay-agent hook: not built yet.");
            return 1;
        });
        return command;
    }
}
