using System.CommandLine;
using Google.Protobuf.WellKnownTypes;
using Relay.Cli.Internal;
using Relay.Protocol.V1;

namespace Relay.Cli.Commands;

/// <summary><c>relayctl stop &lt;session&gt;</c>: end a session's Claude process.</summary>
internal static class StopCommand
{
    /// <summary>How long --wait waits when no --timeout is given.</summary>
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan DeadlineMargin = TimeSpan.FromSeconds(15);

    public static Command Create(CliContext context)
    {
        var session = SessionsCommand.SessionArgument();
        var machine = SessionsCommand.MachineScopeOption();
        var force = new Option<bool>("--force") { Description = "Kill the process at once instead of asking Claude to exit." };
        var grace = BrokerAction.DurationOption("--grace-period", "How long a graceful stop may take before the agent kills (default: the agent's).");
        var reason = new Option<string?>("--reason") { Description = "Why, kept in the audit log." };
        var wait = new Option<bool>("--wait") { Description = "Wait until the session has ended." };
        var timeout = BrokerAction.DurationOption("--timeout", "With --wait: how long to wait (default 30s); exit code 6 when it has not ended by then.");
        var command = new RelayCommand("stop",
            "Stop a session's Claude process (queued while its machine is offline). Stopping an ended session changes nothing.",
            "relayctl stop api-refactor",
            "relayctl stop 3f2a9c --force --reason \"runaway loop\" --wait")
        {
            session, machine, force, grace, reason, wait, timeout,
        };
        command.Validators.Add(result =>
        {
            if (result.GetResult(timeout) is { Implicit: false } && !result.GetValue(wait))
            {
                result.AddError("--timeout only applies with --wait.");
            }
        });
        command.SetBrokerAction(context, async (call, cancellationToken) =>
        {
            var request = new StopSessionRequest
            {
                StopId = Guid.CreateVersion7().ToString(),
                Session = BrokerAction.Selector(call.ParseResult.GetRequiredValue(session), call.ParseResult.GetValue(machine)),
                Force = call.ParseResult.GetValue(force),
                Reason = call.ParseResult.GetValue(reason) ?? string.Empty,
            };
            if (call.ParseResult.GetValue(grace) is { } gracePeriod)
            {
                request.GracePeriod = Duration.FromTimeSpan(gracePeriod);
            }

            var waitFor = call.ParseResult.GetValue(timeout) ?? DefaultWait;
            StopSessionResponse response;
            if (call.ParseResult.GetValue(wait))
            {
                request.Wait = true;
                request.WaitTimeout = Duration.FromTimeSpan(waitFor);
                await using var spinner = Spinner.Start(context, "Stop " + request.StopId + " requested; waiting up to " + Show.Duration(waitFor) + " for the session to end...");
                response = await call.Admin.StopSessionAsync(request, BrokerConnection.Call(cancellationToken, waitFor + DeadlineMargin));
            }
            else
            {
                response = await call.Admin.StopSessionAsync(request, BrokerConnection.Call(cancellationToken));
            }

            if (call.Printer.Json)
            {
                call.Printer.Message(response);
            }
            else
            {
                call.Printer.Fields(
                [
                    ("Stop", response.StopId), ("Session", response.Session.SessionId), ("Status", call.Printer.State(response.Session.Status)),
                    ("Stopped", Show.YesNo(response.Stopped)),
                ]);
            }

            if (!string.IsNullOrEmpty(response.Error))
            {
                call.Printer.Note("relayctl: the agent could not stop the session: " + response.Error);
                return ExitCodes.Error;
            }

            if (request.Wait && !response.Stopped)
            {
                call.Printer.Note("relayctl: the session had not ended after " + Show.Duration(waitFor)
                    + " (try --force, or follow it with 'relayctl watch " + response.Session.SessionId + " --kind session-ended').");
                return ExitCodes.Timeout;
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
