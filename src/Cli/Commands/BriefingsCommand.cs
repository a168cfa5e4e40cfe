using System.CommandLine;
using Relay.Cli.Internal;
using Relay.Protocol.V1;

namespace Relay.Cli.Commands;

/// <summary><c>relayctl briefings set|get|list|delete</c>: standing briefings per session name.</summary>
internal static class BriefingsCommand
{
    public static Command Create(CliContext context)
    {
        var command = new RelayCommand("briefings",
            "Manage standing briefings: text Claude gets at the start of every session with a given name.",
            "relayctl briefings set reviewer --file reviewer.md",
            "relayctl briefings list");
        command.Subcommands.Add(SetCommand(context));
        command.Subcommands.Add(GetCommand(context));
        command.Subcommands.Add(ListCommand(context));
        command.Subcommands.Add(DeleteCommand(context));
        return command;
    }

    private static Argument<string> NameArgument() => new("name") { Description = "The session name the briefing applies to (exact, case-sensitive)." };

    private static RelayCommand SetCommand(CliContext context)
    {
        var name = NameArgument();
        var text = new Argument<string?>("text") { Description = "The briefing; '-' reads it from stdin. Or use --file.", Arity = ArgumentArity.ZeroOrOne };
        var file = new Option<FileInfo?>("--file") { Description = "Read the briefing from this file.", HelpName = "path" };
        var command = new RelayCommand("set",
            "Create or replace the briefing for a session name; every agent gets it for the next session start.",
            "relayctl briefings set reviewer \"You review pull requests; never push.\"",
            "relayctl briefings set reviewer --file briefings/reviewer.md",
            "cat reviewer.md | relayctl briefings set reviewer -")
        {
            name, text, file,
        };
        command.Validators.Add(result =>
        {
            var hasText = result.GetValue(text) is not null;
            var hasFile = result.GetResult(file) is { Implicit: false };
            if (hasText == hasFile)
            {
                result.AddError("give the briefing either as text ('-' for stdin) or with --file, not " + (hasText ? "both." : "neither."));
            }
        });
        command.SetBrokerAction(context, async (call, cancellationToken) =>
        {
            var body = await ReadTextAsync(context, call.ParseResult.GetValue(text), call.ParseResult.GetValue(file), cancellationToken);
            var briefing = await call.Admin.SetBriefingAsync(
                new SetBriefingRequest { Name = call.ParseResult.GetRequiredValue(name), Text = body },
                BrokerConnection.Call(cancellationToken));
            if (call.Printer.Json)
            {
                call.Printer.Message(briefing);
            }
            else
            {
                call.Printer.Note("Set the briefing for '" + briefing.Name + "' (" + briefing.Text.Length + " characters).");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static RelayCommand GetCommand(CliContext context)
    {
        var name = NameArgument();
        var command = new RelayCommand("get",
            "Print a briefing's text (metadata on stderr), so that 'get > file' and 'set --file file' round-trip.",
            "relayctl briefings get reviewer",
            "relayctl briefings get reviewer > reviewer.md")
        {
            name,
        };
        command.SetBrokerAction(context, async (call, cancellationToken) =>
        {
            var briefing = await call.Admin.GetBriefingAsync(new GetBriefingRequest { Name = call.ParseResult.GetRequiredValue(name) }, BrokerConnection.Call(cancellationToken));
            if (call.Printer.Json)
            {
                call.Printer.Message(briefing);
                return ExitCodes.Success;
            }

            call.Printer.Output.Write(briefing.Text);
            if (!briefing.Text.EndsWith('\n'))
            {
                call.Printer.Output.WriteLine();
            }

            call.Printer.Note("Briefing '" + briefing.Name + "', last set " + Show.Time(briefing.UpdatedAt) + " by " + Show.Principal(briefing.UpdatedBy) + ".");
            return ExitCodes.Success;
        });
        return command;
    }

    private static RelayCommand ListCommand(CliContext context)
    {
        var limit = BrokerAction.PageSizeOption();
        var pageToken = BrokerAction.PageTokenOption();
        var command = new RelayCommand("list", "List every briefing by name.", "relayctl briefings list", "relayctl briefings list --json | jq -r '.briefings[].name'")
        {
            limit, pageToken,
        };
        command.SetBrokerAction(context, async (call, cancellationToken) =>
        {
            var response = await call.Admin.ListBriefingsAsync(
                new ListBriefingsRequest { PageSize = call.ParseResult.GetValue(limit), PageToken = call.ParseResult.GetValue(pageToken) ?? string.Empty },
                BrokerConnection.Call(cancellationToken));
            if (call.Printer.Json)
            {
                call.Printer.Message(response);
                return ExitCodes.Success;
            }

            call.Printer.Table(
                ["NAME", "UPDATED", "BY", "TEXT"],
                response.Briefings.Select(b => (IReadOnlyList<string>)[b.Name, Show.Time(b.UpdatedAt), Show.Principal(b.UpdatedBy), Show.Excerpt(b.Text)]));
            call.Printer.NextPage(response.NextPageToken);
            return ExitCodes.Success;
        });
        return command;
    }

    private static RelayCommand DeleteCommand(CliContext context)
    {
        var name = NameArgument();
        var command = new RelayCommand("delete", "Delete a briefing; sessions with that name start without one.", "relayctl briefings delete reviewer")
        {
            name,
        };
        command.SetBrokerAction(context, async (call, cancellationToken) =>
        {
            var briefingName = call.ParseResult.GetRequiredValue(name);
            var response = await call.Admin.DeleteBriefingAsync(new DeleteBriefingRequest { Name = briefingName }, BrokerConnection.Call(cancellationToken));
            if (call.Printer.Json)
            {
                call.Printer.Message(response);
            }
            else
            {
                call.Printer.Note("Deleted the briefing for '" + briefingName + "'.");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static async Task<string> ReadTextAsync(CliContext context, string? text, FileInfo? file, CancellationToken cancellationToken)
    {
        var body = file is not null
            ? await Input.ReadFileAsync(file, cancellationToken)
            : text == "-" ? await context.Input.ReadToEndAsync(cancellationToken) : text!;
        return string.IsNullOrWhiteSpace(body) ? throw new CliException(ExitCodes.Usage, "the briefing text is empty.") : body;
    }
}
