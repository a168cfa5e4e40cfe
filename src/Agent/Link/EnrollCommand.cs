using System.CommandLine;

namespace Relay.Agent.Link;

/// <summary><c>relay-agent enroll</c>.</summary>
internal static class EnrollCommand
{
    public static Command Create()
    {
        var command = new Command("enroll", "Enrol this machine with a broker.");
        command.SetAction(async (result, cancellationToken) =>
        {
            await result.InvocationConfiguration.Error.WriteLineAsync("relay-agent enroll: not built yet.");
            return 1;
        });
        return command;
    }
}
