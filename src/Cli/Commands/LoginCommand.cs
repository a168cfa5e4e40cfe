using System.CommandLine;
using Relay.Cli.Internal;
using Relay.Cli.Options;
using Relay.Protocol.V1;

namespace Relay.Cli.Commands;

/// <summary><c>relayctl login</c>: checks a broker address and token, then saves them as a profile.</summary>
internal static class LoginCommand
{
    public static Command Create(CliContext context)
    {
        var command = new RelayCommand(
            "login",
            "Check a broker address and token, then save them as the current profile in ~/.config/relay/relayctl.json (mode 0600).",
            "relayctl login --broker relay.internal:7443 --token relay_pat_...",
            "relayctl login --profile prod --broker https://relay.example.com --token relay_pat_... --ca-cert team-ca.pem");
        command.SetBrokerAction(context, async (call, cancellationToken) =>
        {
            // Ask the broker first: a profile that cannot work is worse than none.
            var info = await call.Admin.GetServerInfoAsync(new GetServerInfoRequest(), BrokerConnection.Call(cancellationToken));
            var store = new ProfileStore(context.ConfigDirectory);
            var file = await store.LoadAsync(cancellationToken);
            var name = call.ParseResult.GetValue(CommonOptions.Profile) ?? ProfileStore.DefaultProfile;
            var profiles = new Dictionary<string, Profile>(file.Profiles, StringComparer.Ordinal)
            {
                [name] = new Profile { Broker = call.Settings.Broker, Token = call.Settings.Token, CaCert = call.Settings.CaCert },
            };
            await store.SaveAsync(new ProfileFile { Current = name, Profiles = profiles }, cancellationToken);

            if (call.Printer.Json)
            {
                call.Printer.Message(info);
            }

            call.Printer.Note("Logged in to " + call.Settings.Broker + " (relay-broker " + info.Version + ") as "
                + Show.Principal(info.Caller) + ", role " + Show.Enum(info.CallerRole) + "; saved profile '" + name + "' in " + store.FilePath + ".");
            return ExitCodes.Success;
        }, useProfiles: false);
        return command;
    }
}
