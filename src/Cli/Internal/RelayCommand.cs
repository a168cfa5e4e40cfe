using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace Relay.Cli.Internal;

/// <summary>A command with usage examples, which its --help prints after the standard sections.</summary>
internal sealed class RelayCommand(string name, string description, params string[] examples) : Command(name, description)
{
    public IReadOnlyList<string> Examples { get; } = examples;
}

/// <summary>The standard help, followed by the command's examples.</summary>
internal sealed class HelpWithExamplesAction(HelpAction help) : SynchronousCommandLineAction
{
    public override bool ClearsParseErrors => true;

    public override int Invoke(ParseResult parseResult)
    {
        var exitCode = help.Invoke(parseResult);
        if (parseResult.CommandResult.Command is RelayCommand { Examples.Count: > 0 } command)
        {
            var output = parseResult.InvocationConfiguration.Output;
            output.WriteLine("Examples:");
            foreach (var example in command.Examples)
            {
                output.WriteLine("  " + example);
            }

            output.WriteLine();
        }

        return exitCode;
    }
}
