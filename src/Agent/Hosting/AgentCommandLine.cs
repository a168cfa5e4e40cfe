using System.CommandLine;
using System.Reflection;
using Relay.Agent.Doctor;
using Relay.Agent.Hooks;
using Relay.Agent.Install;
using Relay.Agent.Launch;
using Relay.Agent.Link;
using Relay.Agent.Local;

namespace Relay.Agent.Hosting;

/// <summary>The command tree of relay-agent; each command lives with its feature.</summary>
internal static class AgentCommandLine
{
    public static string Version { get; } =
        (typeof(AgentCommandLine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0").Split('+')[0];

    /// <summary>Parses and runs <paramref name="args"/>; usage errors print on stderr and exit 2.</summary>
    public static async Task<int> InvokeAsync(string[] args)
    {
        if (args is ["hook"])
        {
            // Claude Code waits for the hook client on every session start: skip building the command tree.
            return await HookCommand.RunAsync(Console.OpenStandardInput(), Console.Out, Console.Error, Environment.GetEnvironmentVariable);
        }

        var parseResult = BuildRootCommand().Parse(args);
        if (parseResult.Errors.Count > 0)
        {
            foreach (var error in parseResult.Errors)
            {
                await Console.Error.WriteLineAsync("relay-agent: " + error.Message);
            }

            await Console.Error.WriteLineAsync("Run 'relay-agent --help' for the commands and their options.");
            return 2;
        }

        return await parseResult.InvokeAsync();
    }

    internal static RootCommand BuildRootCommand()
    {
        var root = new RootCommand(
            "relay-agent " + Version + ": the per-machine daemon that links this machine's Claude Code sessions to a Relay broker.")
        {
            EnrollCommand.Create(),
            RunCommand.Create(),
            InstallCommand.Create(),
            InstallCommand.CreateUninstall(),
            LaunchCommand.Create(),
            HookCommand.Create(),
            StatusCommand.Create(),
            DoctorCommand.Create(),
        };
        foreach (var option in root.Options.OfType<VersionOption>())
        {
            option.Action = new PrintVersionAction();
        }

        return root;
    }

    private sealed class PrintVersionAction : System.CommandLine.Invocation.SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.WriteLine("relay-agent " + Version);
            return 0;
        }
    }
}
