using System.CommandLine;
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
    public static string Version => AgentVersion.Current;

    /// <summary>The process's entry point for everything but <c>hook</c>: <see cref="InvokeAsync"/>, waited for.</summary>
    /// <remarks>What the compiler emits for an async Main; Program.cs stays synchronous for the hook client's sake.</remarks>
#pragma warning disable VSTHRD002 // The entry point: no synchronization context to deadlock on, as in an async Main.
    public static int Invoke(string[] args) => InvokeAsync(args).GetAwaiter().GetResult();
#pragma warning restore VSTHRD002

    /// <summary>Parses and runs <paramref name="args"/>; usage errors print on stderr and exit 2.</summary>
    public static async Task<int> InvokeAsync(string[] args)
    {
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
