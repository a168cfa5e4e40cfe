using System.CommandLine;
using Google.Protobuf.WellKnownTypes;
using Relay.Cli.Internal;
using Relay.Protocol.V1;

namespace Relay.Cli.Commands;

/// <summary><c>relayctl machines list|show|enroll|revoke</c>.</summary>
internal static class MachinesCommand
{
    public static Command Create(CliContext context)
    {
        var command = new RelayCommand("machines",
            "List and inspect enrolled machines; enrol new ones and revoke old ones (admin).",
            "relayctl machines list --online",
            "relayctl machines enroll build-box-3");
        command.Subcommands.Add(ListCommand(context));
        command.Subcommands.Add(ShowCommand(context));
        command.Subcommands.Add(EnrollCommand(context));
        command.Subcommands.Add(RevokeCommand(context));
        return command;
    }

    private static RelayCommand ListCommand(CliContext context)
    {
        var all = new Option<bool>("--all") { Description = "Include revoked machines." };
        var online = new Option<bool>("--online") { Description = "Only machines whose agent is connected." };
        var limit = BrokerAction.PageSizeOption();
        var pageToken = BrokerAction.PageTokenOption();
        var command = new RelayCommand("list", "List enrolled machines with their online state.", "relayctl machines list", "relayctl machines list --online --json")
        {
            all, online, limit, pageToken,
        };
        command.SetBrokerAction(context, async (call, cancellationToken) =>
        {
            var response = await call.Admin.ListMachinesAsync(
                new ListMachinesRequest
                {
                    IncludeRevoked = call.ParseResult.GetValue(all),
                    OnlineOnly = call.ParseResult.GetValue(online),
                    PageSize = call.ParseResult.GetValue(limit),
                    PageToken = call.ParseResult.GetValue(pageToken) ?? string.Empty,
                },
                BrokerConnection.Call(cancellationToken));
            if (call.Printer.Json)
            {
                call.Printer.Message(response);
                return ExitCodes.Success;
            }

            call.Printer.Table(
                ["NAME", "ID", "ONLINE", "SESSIONS", "HOST", "AGENT", "LAST SEEN"],
                response.Machines.Select(m => (IReadOnlyList<string>)
                [
                    m.Name, m.MachineId, m.RevokedAt is null ? call.Printer.Paint(Show.YesNo(m.Online), Tones.Online(m.Online)) : call.Printer.Paint("revoked", Tone.Bad), Show.Number(m.LiveSessions),
                    Show.Text(m.Hostname), Show.Text(m.AgentVersion), Show.Time(m.LastSeenAt),
                ]));
            call.Printer.NextPage(response.NextPageToken);
            return ExitCodes.Success;
        });
        return command;
    }

    private static RelayCommand ShowCommand(CliContext context)
    {
        var machine = new Argument<string>("machine") { Description = "Machine id or name." };
        var command = new RelayCommand("show", "Show one machine and its live sessions.", "relayctl machines show build-box-3")
        {
            machine,
        };
        command.SetBrokerAction(context, async (call, cancellationToken) =>
        {
            var response = await call.Admin.GetMachineAsync(new GetMachineRequest { Machine = call.ParseResult.GetRequiredValue(machine) }, BrokerConnection.Call(cancellationToken));
            if (call.Printer.Json)
            {
                call.Printer.Message(response);
                return ExitCodes.Success;
            }

            var m = response.Machine;
            call.Printer.Fields(
            [
                ("Name", m.Name), ("ID", m.MachineId), ("Online", Show.YesNo(m.Online)), ("Host", Show.Text(m.Hostname)),
                ("OS", Show.Text(m.Os)), ("Agent", Show.Text(m.AgentVersion)), ("Claude Code", Show.Text(m.ClaudeCodeVersion)),
                ("Enrolled", Show.Time(m.EnrolledAt)), ("Last seen", Show.Time(m.LastSeenAt)), ("Revoked", Show.Time(m.RevokedAt)),
                ("Live sessions", Show.Number(m.LiveSessions)),
            ]);
            if (response.Sessions.Count > 0)
            {
                call.Printer.Output.WriteLine();
                SessionsCommand.WriteTable(call.Printer, response.Sessions);
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static RelayCommand EnrollCommand(CliContext context)
    {
        var name = new Argument<string>("name") { Description = "Name the machine will get; must be unused." };
        var expiresIn = BrokerAction.DurationOption("--expires-in", "How long the one-time token stays valid (default: the broker's, 24h).");
        var note = new Option<string?>("--note") { Description = "Free text for the audit log (for example who the machine belongs to)." };
        var command = new RelayCommand("enroll",
            "Create a one-time enrolment token for a new machine; run 'relay-agent enroll --token <token>' on that machine.",
            "relayctl machines enroll build-box-3 --note \"CI runner\"",
            "relayctl machines enroll laptop-alice --expires-in 2h --json")
        {
            name, expiresIn, note,
        };
        command.SetBrokerAction(context, async (call, cancellationToken) =>
        {
            var request = new CreateEnrollmentRequest { MachineName = call.ParseResult.GetRequiredValue(name), Note = call.ParseResult.GetValue(note) ?? string.Empty };
            if (call.ParseResult.GetValue(expiresIn) is { } lifetime)
            {
                request.ExpiresIn = Duration.FromTimeSpan(lifetime);
            }

            var response = await call.Admin.CreateEnrollmentAsync(request, BrokerConnection.Call(cancellationToken));
            if (call.Printer.Json)
            {
                call.Printer.Message(response);
                return ExitCodes.Success;
            }

            call.Printer.Output.WriteLine(response.Token);
            call.Printer.Note("One-time enrolment token for '" + response.MachineName + "', valid until " + Show.Time(response.ExpiresAt) + ". On the machine run:");
            call.Printer.Note("  relay-agent enroll --broker " + call.Settings.Broker + " --token " + response.Token);
            return ExitCodes.Success;
        });
        return command;
    }

    private static RelayCommand RevokeCommand(CliContext context)
    {
        var machine = new Argument<string>("machine") { Description = "Machine id or name." };
        var reason = new Option<string?>("--reason") { Description = "Why, kept in the audit log." };
        var command = new RelayCommand("revoke",
            "Revoke a machine: its credential stops working, its stream ends and its sessions end.",
            "relayctl machines revoke laptop-bob --reason \"stolen\"")
        {
            machine, reason,
        };
        command.SetBrokerAction(context, async (call, cancellationToken) =>
        {
            var revoked = await call.Admin.RevokeMachineAsync(
                new RevokeMachineRequest { Machine = call.ParseResult.GetRequiredValue(machine), Reason = call.ParseResult.GetValue(reason) ?? string.Empty },
                BrokerConnection.Call(cancellationToken));
            if (call.Printer.Json)
            {
                call.Printer.Message(revoked);
            }
            else
            {
                call.Printer.Note("Revoked machine " + revoked.Name + " (" + revoked.MachineId + ").");
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
