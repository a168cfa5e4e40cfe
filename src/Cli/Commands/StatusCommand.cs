using System.CommandLine;
using Relay.Cli.Internal;
using Relay.Protocol.V1;

namespace Relay.Cli.Commands;

/// <summary><c>relayctl status</c>: the broker's version and health, and who the token belongs to.</summary>
internal static class StatusCommand
{
    public static Command Create(CliContext context)
    {
        var command = new RelayCommand("status",
            "Show the broker's version, replica and load, and the caller's identity and role.",
            "relayctl status",
            "relayctl status --broker https://relay.example.com:7443 --ca-cert team-ca.pem --json");
        command.SetBrokerAction(context, async (call, cancellationToken) =>
        {
            var info = await call.Admin.GetServerInfoAsync(new GetServerInfoRequest(), BrokerConnection.Call(cancellationToken));
            if (call.Printer.Json)
            {
                call.Printer.Message(info);
                return ExitCodes.Success;
            }

            call.Printer.Fields(
            [
                ("Broker", call.Settings.Broker),
                ("Version", info.Version),
                ("Replica", Show.Text(info.Replica)),
                ("Started", Show.Time(info.StartedAt)),
                ("Database", Show.Text(info.DatabaseMode)),
                ("Caller", Show.Principal(info.Caller)),
                ("Role", Show.Enum(info.CallerRole)),
                ("Machines online", Show.Number(info.MachinesOnline)),
                ("Live sessions", Show.Number(info.LiveSessions)),
            ]);
            return ExitCodes.Success;
        });
        return command;
    }
}
