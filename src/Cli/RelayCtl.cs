using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Reflection;
using Relay.Cli.Commands;
using Relay.Cli.Internal;
using Relay.Cli.Options;

namespace Relay.Cli;

/// <summary>The command tree of relayctl and how it is invoked.</summary>
internal static class RelayCtl
{
    public static string Version { get; } =
        (typeof(RelayCtl).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0").Split('+')[0];

    public static RootCommand BuildRootCommand(CliContext context)
    {
        var root = new RootCommand(
            "relayctl " + Version + ": see and steer every Claude Code session on every machine through a Relay broker."
            + Environment.NewLine + Environment.NewLine
            + "Connection: --broker/--token, else RELAY_BROKER/RELAY_TOKEN, else the profile written by 'relayctl login'."
            + Environment.NewLine
            + "Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 unauthenticated or permission denied, 5 unavailable, 6 timeout."
            + Environment.NewLine
            + "Output: tables for people (colour on a terminal, off with NO_COLOR); --json for scripts (data only on stdout).");
        CommonOptions.AddTo(root);
        foreach (var option in root.Options.OfType<VersionOption>())
        {
            option.Action = new PrintVersionAction();
        }

        foreach (var option in root.Options.OfType<HelpOption>())
        {
            if (option.Action is HelpAction help)
            {
                option.Action = new HelpWithExamplesAction(help);
            }
        }

        root.Subcommands.Add(StatusCommand.Create(context));
        root.Subcommands.Add(LoginCommand.Create(context));
        root.Subcommands.Add(TokensCommand.Create(context));
        root.Subcommands.Add(MachinesCommand.Create(context));
        root.Subcommands.Add(SessionsCommand.Create(context));
        root.Subcommands.Add(SendCommand.Create(context));
        root.Subcommands.Add(WatchCommand.Create(context));
        root.Subcommands.Add(ApprovalsCommand.Create(context));
        root.Subcommands.Add(LaunchCommand.Create(context));
        root.Subcommands.Add(StopCommand.Create(context));
        root.Subcommands.Add(BriefingsCommand.Create(context));
        root.Subcommands.Add(PolicyCommand.Create(context));
        root.Subcommands.Add(AuditCommand.Create(context));
        root.Subcommands.Add(CompletionCommand.Create(context));
        return root;
    }

    /// <summary>Parses and runs <paramref name="args"/>; usage errors print on stderr and exit <see cref="ExitCodes.Usage"/>.</summary>
    public static async Task<int> InvokeAsync(RootCommand root, IReadOnlyList<string> args, CliContext context, CancellationToken cancellationToken = default)
    {
        var parseResult = root.Parse(args);
        if (parseResult.Action is ParseErrorAction)
        {
            foreach (var error in parseResult.Errors)
            {
                await context.Error.WriteLineAsync("relayctl: " + error.Message);
            }

            var command = string.Join(' ', parseResult.CommandResult.Command is RootCommand
                ? ["relayctl"]
                : Enumerable.Reverse(Ancestry(parseResult.CommandResult.Command)));
            await context.Error.WriteLineAsync("Usage: run '" + command + " --help' for the commands, options and examples.");
            return ExitCodes.Usage;
        }

        // Ctrl-C arrives through cancellationToken (Internal/Interrupts), not through System.CommandLine's own handler.
        var configuration = new InvocationConfiguration
        {
            Output = context.Output,
            Error = context.Error,
            EnableDefaultExceptionHandler = false,
            ProcessTerminationTimeout = null,
        };
        return await parseResult.InvokeAsync(configuration, cancellationToken);
    }

    private static IEnumerable<string> Ancestry(Command command)
    {
        for (Command? current = command; current is not null; current = current.Parents.OfType<Command>().FirstOrDefault())
        {
            yield return current is RootCommand ? "relayctl" : current.Name;
        }
    }

    private sealed class PrintVersionAction : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.WriteLine("relayctl " + Version);
            return ExitCodes.Success;
        }
    }
}
