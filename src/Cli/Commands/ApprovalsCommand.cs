using System.CommandLine;
using Relay.Cli.Internal;
using Relay.Protocol.V1;

namespace Relay.Cli.Commands;

/// <summary><c>relayctl approvals list|show|allow|deny</c>: permission requests from sessions.</summary>
internal static class ApprovalsCommand
{
    private static readonly Dictionary<string, ApprovalStatus> Statuses = System.Enum.GetValues<ApprovalStatus>()
        .Where(s => s != ApprovalStatus.Unspecified)
        .ToDictionary(s => Show.Enum(s), s => s, StringComparer.Ordinal);

    public static Command Create(CliContext context)
    {
        var command = new RelayCommand("approvals",
            "See and decide the permission requests of sessions (a tool call waiting for 'allow' or 'deny').",
            "relayctl approvals list",
            "relayctl approvals allow 7c1d0e5b-... --reason \"read-only command\"",
            "relayctl approvals deny 7c1d0e5b-... --reason \"not on main\"");
        command.Subcommands.Add(ListCommand(context));
        command.Subcommands.Add(ShowCommand(context));
        command.Subcommands.Add(DecideCommand(context, "allow", ApprovalDecision.Allow));
        command.Subcommands.Add(DecideCommand(context, "deny", ApprovalDecision.Deny));
        return command;
    }

    private static RelayCommand ListCommand(CliContext context)
    {
        var session = new Option<string?>("--session") { Description = "Only this session's requests (id, Claude session id, launch id or name).", HelpName = "session" };
        var machine = new Option<string?>("--machine") { Description = "Only requests from sessions on this machine (id or name).", HelpName = "machine" };
        var status = new Option<string[]>("--status") { Description = "Only requests in this state (repeatable; default pending).", HelpName = "status" };
        status.AcceptOnlyFromAmong([.. Statuses.Keys]);
        var all = new Option<bool>("--all") { Description = "Every state, not only pending." };
        var limit = BrokerAction.PageSizeOption();
        var pageToken = BrokerAction.PageTokenOption();
        var command = new RelayCommand("list",
            "List permission requests, oldest first (default: only those waiting for a decision).",
            "relayctl approvals list",
            "relayctl approvals list --machine build-box-3 --all --json")
        {
            session, machine, status, all, limit, pageToken,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(all) && result.GetResult(status) is { Implicit: false })
            {
                result.AddError("--all and --status cannot be combined.");
            }
        });
        command.SetBrokerAction(context, async (call, cancellationToken) =>
        {
            var request = new ListApprovalsRequest
            {
                Machine = call.ParseResult.GetValue(machine) ?? string.Empty,
                PageSize = call.ParseResult.GetValue(limit),
                PageToken = call.ParseResult.GetValue(pageToken) ?? string.Empty,
            };
            request.Statuses.Add(call.ParseResult.GetValue(all)
                ? Statuses.Values
                : (call.ParseResult.GetValue(status) ?? []).Select(s => Statuses[s]).Distinct());
            if (call.ParseResult.GetValue(session) is { } reference)
            {
                request.Session = BrokerAction.Selector(reference, null);
            }

            var response = await call.Admin.ListApprovalsAsync(request, BrokerConnection.Call(cancellationToken));
            if (call.Printer.Json)
            {
                call.Printer.Message(response);
                return ExitCodes.Success;
            }

            call.Printer.Table(
                ["ID", "SESSION", "MACHINE", "TOOL", "STATUS", "REQUESTED", "DESCRIPTION"],
                response.Approvals.Select(a => (IReadOnlyList<string>)
                [
                    a.ApprovalId, Show.Text(string.IsNullOrEmpty(a.SessionName) ? a.SessionId : a.SessionName), Show.Text(a.MachineName),
                    a.ToolName, call.Printer.State(a.Status), Show.Time(a.RequestedAt), Show.Excerpt(a.Description),
                ]));
            call.Printer.NextPage(response.NextPageToken);
            return ExitCodes.Success;
        });
        return command;
    }

    private static RelayCommand ShowCommand(CliContext context)
    {
        var id = ApprovalArgument();
        var command = new RelayCommand("show", "Show one permission request with the tool call's input.", "relayctl approvals show 7c1d0e5b-...")
        {
            id,
        };
        command.SetBrokerAction(context, async (call, cancellationToken) =>
        {
            var approval = await call.Admin.GetApprovalAsync(new GetApprovalRequest { ApprovalId = call.ParseResult.GetRequiredValue(id) }, BrokerConnection.Call(cancellationToken));
            Print(call.Printer, approval);
            return ExitCodes.Success;
        });
        return command;
    }

    private static RelayCommand DecideCommand(CliContext context, string verb, ApprovalDecision decision)
    {
        var id = ApprovalArgument();
        var reason = new Option<string?>("--reason")
        {
            Description = decision == ApprovalDecision.Deny ? "Why; Claude is shown it with the denial." : "Why, kept with the decision.",
        };
        var command = new RelayCommand(verb,
            (decision == ApprovalDecision.Allow ? "Allow" : "Deny") + " a pending permission request; the verdict goes to the session at once.",
            "relayctl approvals " + verb + " 7c1d0e5b-..." + (decision == ApprovalDecision.Deny ? " --reason \"use the staging database\"" : string.Empty))
        {
            id, reason,
        };
        command.SetBrokerAction(context, async (call, cancellationToken) =>
        {
            var approval = await call.Admin.DecideApprovalAsync(
                new DecideApprovalRequest { ApprovalId = call.ParseResult.GetRequiredValue(id), Decision = decision, Reason = call.ParseResult.GetValue(reason) ?? string.Empty },
                BrokerConnection.Call(cancellationToken));
            if (call.Printer.Json)
            {
                call.Printer.Message(approval);
            }
            else
            {
                call.Printer.Note((decision == ApprovalDecision.Allow ? "Allowed " : "Denied ") + approval.ToolName + " for session "
                    + (string.IsNullOrEmpty(approval.SessionName) ? approval.SessionId : approval.SessionName) + " (" + approval.ApprovalId + ").");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static Argument<string> ApprovalArgument() => new("approval-id") { Description = "The request's id (see 'relayctl approvals list')." };

    private static void Print(Printer printer, Approval a)
    {
        if (printer.Json)
        {
            printer.Message(a);
            return;
        }

        printer.Fields(
        [
            ("ID", a.ApprovalId), ("Session", Show.Text(string.IsNullOrEmpty(a.SessionName) ? a.SessionId : a.SessionName + " (" + a.SessionId + ")")),
            ("Machine", Show.Text(a.MachineName)), ("Tool", a.ToolName), ("Status", printer.State(a.Status)),
            ("Description", Show.Text(a.Description)), ("Input", Show.Text(string.IsNullOrEmpty(a.ToolInputJson) ? a.InputPreview : a.ToolInputJson)),
            ("Requested", Show.Time(a.RequestedAt)), ("Expires", Show.Time(a.ExpiresAt)), ("Decided by", Show.Principal(a.DecidedBy)),
            ("Reason", Show.Text(a.Reason)),
        ]);
    }
}
