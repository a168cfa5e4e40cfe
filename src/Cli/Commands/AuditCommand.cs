using System.CommandLine;
using Google.Protobuf.WellKnownTypes;
using Relay.Cli.Internal;
using Relay.Protocol.V1;

namespace Relay.Cli.Commands;

/// <summary><c>relayctl audit</c>: who did what, when (admin).</summary>
internal static class AuditCommand
{
    public static Command Create(CliContext context)
    {
        var action = new Option<string?>("--action") { Description = "Only actions whose name starts with this, e.g. token. or prompt.send.", HelpName = "prefix" };
        var actor = new Option<string?>("--actor") { Description = "Only actions by this principal id (token, session or machine id).", HelpName = "id" };
        var target = new Option<string?>("--target") { Description = "Only actions on this object id.", HelpName = "id" };
        var session = new Option<string?>("--session") { Description = "Only actions concerning this Relay session id.", HelpName = "id" };
        var machine = new Option<string?>("--machine") { Description = "Only actions concerning this machine (id or name).", HelpName = "machine" };
        var since = BrokerAction.DurationOption("--since", "Only entries from this long ago, e.g. 1h or 7d.");
        var limit = BrokerAction.PageSizeOption();
        var pageToken = BrokerAction.PageTokenOption();
        var command = new RelayCommand("audit",
            "Show the audit log, newest first (admin role).",
            "relayctl audit --since 24h",
            "relayctl audit --action token. --json")
        {
            action, actor, target, session, machine, since, limit, pageToken,
        };
        command.SetBrokerAction(context, async (call, cancellationToken) =>
        {
            var request = new ListAuditEventsRequest
            {
                ActionPrefix = call.ParseResult.GetValue(action) ?? string.Empty,
                ActorId = call.ParseResult.GetValue(actor) ?? string.Empty,
                TargetId = call.ParseResult.GetValue(target) ?? string.Empty,
                SessionId = call.ParseResult.GetValue(session) ?? string.Empty,
                Machine = call.ParseResult.GetValue(machine) ?? string.Empty,
                PageSize = call.ParseResult.GetValue(limit),
                PageToken = call.ParseResult.GetValue(pageToken) ?? string.Empty,
            };
            if (call.ParseResult.GetValue(since) is { } ago)
            {
                request.Since = Timestamp.FromDateTime(DateTime.UtcNow - ago);
            }

            var response = await call.Admin.ListAuditEventsAsync(request, BrokerConnection.Call(cancellationToken));
            if (call.Printer.Json)
            {
                call.Printer.Message(response);
                return ExitCodes.Success;
            }

            call.Printer.Table(
                ["AT", "ACTOR", "ACTION", "TARGET", "OUTCOME"],
                response.Events.Select(e => (IReadOnlyList<string>)
                [
                    Show.Time(e.At), Show.Principal(e.Actor), e.Action, Show.Text(e.TargetKind) + " " + Show.Text(e.TargetId), Show.Enum(e.Outcome),
                ]));
            call.Printer.NextPage(response.NextPageToken);
            return ExitCodes.Success;
        });
        return command;
    }
}
