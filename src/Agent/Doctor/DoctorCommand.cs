using System.CommandLine;

namespace Relay.Agent.Doctor;

/// <summary><c>relay-agent doctor</c>.</summary>
internal static class DoctorCommand
{
    public static Command Create()
    {
        var command = new Command("doctor", "Check this machine's set-up.");
        command.SetAction(async (result, cancellationToken) =>
        {
            await result.InvocationConfiguration.Error.WriteLineAsync("relay-agent doctor: not built yet.");
            return 1;
        });
        return command;
    }
}
