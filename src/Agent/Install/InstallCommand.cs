using System.CommandLine;

namespace Relay.Agent.Install;

/// <summary><c>relay-agent install|uninstall</c>.</summary>
internal static class InstallCommand
{
    public static Command Create() => Placeholder("install", "Wire Relay's hooks and channel into Claude Code.");

    public static Command CreateUninstall() => Placeholder("uninstall", "Remove what install wrote.");

    private static Command Placeholder(string name, string description)
    {
        var command = new Command(name, description);
        command.SetAction(async (result, cancellationToken) =>
        {
            await result.InvocationConfiguration.Error.WriteLineAsync("relay-agent " + name + ": not built yet.");
            return 1;
        });
        return command;
    }
}
