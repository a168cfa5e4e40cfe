using System.CommandLine;
using Relay.Cli.Internal;
using Relay.Protocol.V1;

namespace Relay.Cli.Commands;

/// <summary><c>relayctl sessions history &lt;session&gt;</c>: one session's event log, paged.</summary>
internal static class SessionsHistoryCommand
{
    public static RelayCommand Create(CliContext context)
    {
        var session = SessionsCommand.SessionArgument();
        var machine = SessionsCommand.MachineScopeOption();
        var kinds = Events.KindOption("Only events of this kind (repeatable): hook, prompt-created, prompt-updated, reply, approval-requested, ...");
        var after = new Option<string?>("--after") { Description = "Only events after this cursor.", HelpName = "cursor" };
        var before = new Option<string?>("--before") { Description = "Only events before this cursor (to page back from an event).", HelpName = "cursor" };
        var newestFirst = new Option<bool>("--newest-first") { Description = "Newest events first (with --limit: the last N events)." };
        var raw = new Option<bool>("--raw") { Description = "With --json: include each hook's raw JSON payload (large)." };
        var limit = BrokerAction.PageSizeOption();
        var pageToken = BrokerAction.PageTokenOption();
        var command = new RelayCommand("history",
            "Show one session's events (hooks, prompts, replies, approvals...), oldest first, one page at a time. "
            + "The head cursor it prints on stderr (head_cursor in JSON) is where 'relayctl watch --after' continues live.",
            "relayctl sessions history api-refactor",
            "relayctl sessions history api-refactor --kind prompt-created --kind reply --newest-first --limit 10",
            "relayctl sessions history 3f2a9c --json --page-token <token from the previous page>")
        {
            session, machine, kinds, after, before, newestFirst, raw, limit, pageToken,
        };
        command.SetBrokerAction(context, async (call, cancellationToken) =>
        {
            var request = new GetSessionHistoryRequest
            {
                Session = BrokerAction.Selector(call.ParseResult.GetRequiredValue(session), call.ParseResult.GetValue(machine)),
                Kinds = { Events.Parse(call.ParseResult.GetValue(kinds)) },
                AfterCursor = call.ParseResult.GetValue(after) ?? string.Empty,
                BeforeCursor = call.ParseResult.GetValue(before) ?? string.Empty,
                NewestFirst = call.ParseResult.GetValue(newestFirst),
                OmitRawJson = !call.ParseResult.GetValue(raw),
                PageSize = call.ParseResult.GetValue(limit),
                PageToken = call.ParseResult.GetValue(pageToken) ?? string.Empty,
            };
            var response = await call.Admin.GetSessionHistoryAsync(request, BrokerConnection.Call(cancellationToken));
            if (call.Printer.Json)
            {
                call.Printer.Message(response);
                return ExitCodes.Success;
            }

            call.Printer.Table(Events.Headers, response.Events.Select(e => Events.Row(call.Printer, e)));
            call.Printer.NextPage(response.NextPageToken);
            call.Printer.Note("Follow live from here: relayctl watch " + call.ParseResult.GetRequiredValue(session) + " --after " + response.HeadCursor);
            return ExitCodes.Success;
        });
        return command;
    }
}
