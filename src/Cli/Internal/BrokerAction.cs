using System.CommandLine;
using Relay.Cli.Options;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Cli.Internal;

/// <summary>What a command that talks to the broker gets: the parse result, the printer and an Admin client.</summary>
internal sealed record BrokerCall(ParseResult ParseResult, Printer Printer, Admin.AdminClient Admin, ConnectionSettings Settings);

internal static class BrokerAction
{
    /// <summary>Sets <paramref name="command"/>'s action: connect, run <paramref name="run"/>, map every failure to an exit code.</summary>
    public static void SetBrokerAction(
        this Command command, CliContext context, Func<BrokerCall, CancellationToken, Task<int>> run, bool useProfiles = true) =>
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            try
            {
                var settings = await BrokerConnection.ResolveAsync(parseResult, context, useProfiles, cancellationToken);
                using var connection = BrokerConnection.Open(settings);
                var printer = new Printer(context, parseResult.GetValue(CommonOptions.Json));
                return await run(new BrokerCall(parseResult, printer, connection.Admin, settings), cancellationToken);
            }
            catch (Exception e) when (cancellationToken.IsCancellationRequested && e is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
            {
                await context.Error.WriteLineAsync("relayctl: interrupted.");
                return ExitCodes.Interrupted;
            }
            catch (Exception e)
            {
                return ErrorReporter.Report(e, context.Error);
            }
        });

    /// <summary>An option taking a duration such as 30s, 5m or 2h.</summary>
    public static Option<TimeSpan?> DurationOption(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "duration",
        CustomParser = result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : string.Empty;
            if (Durations.TryParse(text, out var value))
            {
                return value;
            }

            result.AddError("'" + text + "' is not a duration for " + name + "; use for example 30s, 5m, 2h or 1d.");
            return null;
        },
    };

    public static Option<int> PageSizeOption() => new("--limit")
    {
        Description = "At most this many results (default: the broker's page size).",
        HelpName = "n",
    };

    public static Option<string?> PageTokenOption() => new("--page-token")
    {
        Description = "Continue a listing from where the previous one stopped.",
        HelpName = "token",
    };

    public static SessionSelector Selector(string reference, string? machine) =>
        new() { Lookup = reference, Machine = machine ?? string.Empty };

}
