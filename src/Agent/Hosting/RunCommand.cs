using System.CommandLine;

namespace Relay.Agent.Hosting;

/// <summary><c>relay-agent run</c>.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var command = new Command("run", "Run the daemon.");
        command.SetAction(async (result, cancellationToken) =>
        {
            await result.InvocationConfiguration.Error.WriteLineAsync("relay-agent run: not built yet.");
            return 1;
        });
        return command;
    }
}
