using System.CommandLine;
using Relay.Cli.Internal;
using Relay.Protocol.V1;

namespace Relay.Cli.Commands;

/// <summary><c>relayctl sessions list|show|history|search</c>.</summary>
internal static class SessionsCommand
{
    public static Command Create(CliContext context)
    {
        var command = new RelayCommand("sessions",
            "List and inspect Claude Code sessions on every machine, read their history and search what was said.",
            "relayctl sessions list --machine build-box-3",
            "relayctl sessions show api-refactor",
            "relayctl sessions history api-refactor --newest-first --limit 20",
            "relayctl sessions search \"migration failed\"");
        command.Subcommands.Add(ListCommand(context));
        command.Subcommands.Add(ShowCommand(context));
        command.Subcommands.Add(SessionsHistoryCommand.Create(context));
        command.Subcommands.Add(SessionsSearchCommand.Create(context));
        return command;
    }

    /// <summary>A session reference as people type it: Relay id, Claude session id, launch id, name or unique id prefix.</summary>
    public static Argument<string> SessionArgument() => new("session")
    {
        Description = "Relay session id, Claude session id, launch id, session name, or a unique id prefix (6+ characters).",
    };

    public static Option<string?> MachineScopeOption() => new("--machine") { Description = "Only look for the session on this machine (id or name).", HelpName = "machine" };

    public static void WriteTable(Printer printer, IEnumerable<Session> sessions) =>
        printer.Table(
            ["ID", "NAME", "MACHINE", "STATUS", "CHANNEL", "CWD", "LAST ACTIVITY"],
            sessions.Select(s => (IReadOnlyList<string>)
            [
                s.SessionId, Show.Text(s.Name), Show.Text(s.MachineName), printer.State(s.Status),
                Show.YesNo(s.ChannelAttached), Show.Text(s.Cwd), Show.Time(s.LastActivityAt),
            ]));

    private static RelayCommand ListCommand(CliContext context)
    {
        var machine = new Option<string?>("--machine") { Description = "Only sessions on this machine (id or name).", HelpName = "machine" };
        var name = new Option<string?>("--name") { Description = "Only sessions with this name." };
        var text = new Option<string?>("--text") { Description = "Only sessions whose name, directory or ids contain this text." };
        var all = new Option<bool>("--all") { Description = "Include ended sessions." };
        var limit = BrokerAction.PageSizeOption();
        var pageToken = BrokerAction.PageTokenOption();
        var command = new RelayCommand("list",
            "List sessions that have not ended (with --all, ended ones too), most recently active first.",
            "relayctl sessions list",
            "relayctl sessions list --machine build-box-3 --all --json")
        {
            machine, name, text, all, limit, pageToken,
        };
        command.SetBrokerAction(context, async (call, cancellationToken) =>
        {
            var response = await call.Admin.ListSessionsAsync(
                new ListSessionsRequest
                {
                    Machine = call.ParseResult.GetValue(machine) ?? string.Empty,
                    Name = call.ParseResult.GetValue(name) ?? string.Empty,
                    Text = call.ParseResult.GetValue(text) ?? string.Empty,
                    IncludeEnded = call.ParseResult.GetValue(all),
                    PageSize = call.ParseResult.GetValue(limit),
                    PageToken = call.ParseResult.GetValue(pageToken) ?? string.Empty,
                },
                BrokerConnection.Call(cancellationToken));
            if (call.Printer.Json)
            {
                call.Printer.Message(response);
                return ExitCodes.Success;
            }

            WriteTable(call.Printer, response.Sessions);
            call.Printer.NextPage(response.NextPageToken);
            return ExitCodes.Success;
        });
        return command;
    }

    private static RelayCommand ShowCommand(CliContext context)
    {
        var session = SessionArgument();
        var machine = MachineScopeOption();
        var command = new RelayCommand("show",
            "Show one session with its Claude session ids, open prompts and pending approvals.",
            "relayctl sessions show api-refactor",
            "relayctl sessions show 3f2a9c --json")
        {
            session, machine,
        };
        command.SetBrokerAction(context, async (call, cancellationToken) =>
        {
            var response = await call.Admin.GetSessionAsync(
                new GetSessionRequest { Session = BrokerAction.Selector(call.ParseResult.GetRequiredValue(session), call.ParseResult.GetValue(machine)) },
                BrokerConnection.Call(cancellationToken));
            if (call.Printer.Json)
            {
                call.Printer.Message(response);
                return ExitCodes.Success;
            }

            var s = response.Session;
            call.Printer.Fields(
            [
                ("ID", s.SessionId), ("Name", Show.Text(s.Name)), ("Machine", Show.Text(s.MachineName)),
                ("Status", call.Printer.State(s.Status) + (s.EndReason == SessionEndReason.Unspecified ? string.Empty : " (" + Show.Enum(s.EndReason) + ")")),
                ("Machine online", Show.YesNo(s.MachineOnline)), ("Channel", Show.YesNo(s.ChannelAttached)),
                ("Directory", Show.Text(s.Cwd)), ("Claude session", Show.Text(s.ClaudeSessionId)), ("Launch", Show.Text(s.LaunchId)),
                ("Model", Show.Text(s.Model)), ("Created", Show.Time(s.CreatedAt)), ("Last activity", Show.Time(s.LastActivityAt)),
                ("Pending prompts", Show.Number(s.PendingPrompts)), ("Pending approvals", Show.Number(s.PendingApprovals)),
            ]);
            if (response.OpenPrompts.Count > 0)
            {
                call.Printer.Output.WriteLine();
                call.Printer.Table(
                    ["PROMPT", "STATUS", "FROM", "TEXT"],
                    response.OpenPrompts.Select(p => (IReadOnlyList<string>)[p.PromptId, call.Printer.State(p.Status), Show.Principal(p.Sender), Show.Excerpt(p.Text)]));
            }

            if (response.PendingApprovals.Count > 0)
            {
                call.Printer.Output.WriteLine();
                call.Printer.Table(
                    ["APPROVAL", "TOOL", "REQUESTED", "DESCRIPTION"],
                    response.PendingApprovals.Select(a => (IReadOnlyList<string>)[a.ApprovalId, a.ToolName, Show.Time(a.RequestedAt), Show.Excerpt(a.Description)]));
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
