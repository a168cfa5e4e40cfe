using System.CommandLine;
using Google.Protobuf.WellKnownTypes;
using Relay.Cli.Internal;
using Relay.Protocol.V1;

namespace Relay.Cli.Commands;

/// <summary><c>relayctl tokens create|list|revoke</c>: personal tokens (admin).</summary>
internal static class TokensCommand
{
    private static readonly string[] Roles = ["viewer", "operator", "admin"];

    public static Command Create(CliContext context)
    {
        var command = new RelayCommand("tokens",
            "Create, list and revoke personal tokens (admin role).",
            "relayctl tokens create ci-nightly --role operator --expires-in 30d",
            "relayctl tokens list --all");
        command.Subcommands.Add(CreateCommand(context));
        command.Subcommands.Add(ListCommand(context));
        command.Subcommands.Add(RevokeCommand(context));
        return command;
    }

    private static RelayCommand CreateCommand(CliContext context)
    {
        var name = new Argument<string>("name") { Description = "A person, or a script such as ci-nightly; unique among valid tokens." };
        var role = new Option<string>("--role") { Description = "Role to grant.", DefaultValueFactory = _ => "viewer" };
        role.AcceptOnlyFromAmong(Roles);
        var expiresIn = BrokerAction.DurationOption("--expires-in", "Lifetime, e.g. 30d or 12h (default: never expires).");
        var command = new RelayCommand("create",
            "Create a personal token and print its secret. The secret is shown once; store it now.",
            "relayctl tokens create alice --role operator",
            "export RELAY_TOKEN=$(relayctl tokens create ci --json | jq -r .secret)")
        {
            name, role, expiresIn,
        };
        command.SetBrokerAction(context, async (call, cancellationToken) =>
        {
            var request = new CreateTokenRequest { Name = call.ParseResult.GetRequiredValue(name), Role = ParseRole(call.ParseResult.GetRequiredValue(role)) };
            if (call.ParseResult.GetValue(expiresIn) is { } lifetime)
            {
                request.ExpiresIn = Duration.FromTimeSpan(lifetime);
            }

            var created = await call.Admin.CreateTokenAsync(request, BrokerConnection.Call(cancellationToken));
            if (call.Printer.Json)
            {
                call.Printer.Message(created);
                return ExitCodes.Success;
            }

            call.Printer.Output.WriteLine(created.Secret);
            call.Printer.Note("Created token " + created.Token.TokenId + " '" + created.Token.Name + "' (" + Show.Enum(created.Token.Role)
                + "). The secret above is shown only once.");
            return ExitCodes.Success;
        });
        return command;
    }

    private static RelayCommand ListCommand(CliContext context)
    {
        var all = new Option<bool>("--all") { Description = "Include revoked and expired tokens." };
        var limit = BrokerAction.PageSizeOption();
        var pageToken = BrokerAction.PageTokenOption();
        var command = new RelayCommand("list", "List personal tokens, newest first (never their secrets).", "relayctl tokens list", "relayctl tokens list --all --json")
        {
            all, limit, pageToken,
        };
        command.SetBrokerAction(context, async (call, cancellationToken) =>
        {
            var response = await call.Admin.ListTokensAsync(
                new ListTokensRequest
                {
                    IncludeRevoked = call.ParseResult.GetValue(all),
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
                ["ID", "NAME", "ROLE", "PREFIX", "CREATED", "LAST USED", "EXPIRES", "REVOKED"],
                response.Tokens.Select(t => (IReadOnlyList<string>)
                [
                    t.TokenId, t.Name, Show.Enum(t.Role), Show.Text(t.SecretPrefix), Show.Time(t.CreatedAt),
                    Show.Time(t.LastUsedAt), Show.Time(t.ExpiresAt), Show.Time(t.RevokedAt),
                ]));
            call.Printer.NextPage(response.NextPageToken);
            return ExitCodes.Success;
        });
        return command;
    }

    private static RelayCommand RevokeCommand(CliContext context)
    {
        var id = new Argument<string>("token-id") { Description = "The token's id (see 'relayctl tokens list')." };
        var command = new RelayCommand("revoke", "Revoke a token at once, also for open streams.", "relayctl tokens revoke 0f8c2a6e-...")
        {
            id,
        };
        command.SetBrokerAction(context, async (call, cancellationToken) =>
        {
            var token = await call.Admin.RevokeTokenAsync(new RevokeTokenRequest { TokenId = call.ParseResult.GetRequiredValue(id) }, BrokerConnection.Call(cancellationToken));
            if (call.Printer.Json)
            {
                call.Printer.Message(token);
            }
            else
            {
                call.Printer.Note("Revoked token " + token.TokenId + " '" + token.Name + "'.");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static Role ParseRole(string role) => role switch
    {
        "operator" => Role.Operator,
        "admin" => Role.Admin,
        _ => Role.Viewer,
    };
}
