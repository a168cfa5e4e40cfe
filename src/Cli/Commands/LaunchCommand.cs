using System.CommandLine;
using Google.Protobuf.WellKnownTypes;
using Relay.Cli.Internal;
using Relay.Protocol.V1;

namespace Relay.Cli.Commands;

/// <summary><c>relayctl launch --machine &lt;m&gt; [--cwd] [--prompt] [--name] [--wait] [-- claude args]</c>.</summary>
internal static class LaunchCommand
{
    /// <summary>How long --wait waits when no --timeout is given.</summary>
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan DeadlineMargin = TimeSpan.FromSeconds(15);

    public static Command Create(CliContext context)
    {
        var machine = new Option<string>("--machine") { Description = "Machine to start Claude on (id or name).", HelpName = "machine", Required = true };
        var cwd = new Option<string?>("--cwd") { Description = "Working directory on that machine (default: the agent's).", HelpName = "dir" };
        var prompt = new Option<string?>("--prompt") { Description = "First prompt for the new session; '-' reads it from stdin.", HelpName = "text" };
        var name = new Option<string?>("--name") { Description = "Name for the new session (its standing briefing applies)." };
        var wait = new Option<bool>("--wait") { Description = "Wait until the agent has started Claude (or failed to)." };
        var timeout = BrokerAction.DurationOption("--timeout", "With --wait: how long to wait (default 60s); exit code 6 when the start is not reported in time.");
        var expiresIn = BrokerAction.DurationOption("--expires-in", "Give up if the machine has not started it within this long (default: the broker's, 1h).");
        var claudeArgs = new Argument<string[]>("claude-args") { Description = "Extra arguments for claude, after '--'.", Arity = ArgumentArity.ZeroOrMore };
        var command = new RelayCommand("launch",
            "Start a Claude Code session on a machine. Prints the launch id and the new session's id.",
            "relayctl launch --machine build-box-3 --cwd /srv/api --name reviewer --prompt \"review the open PR\"",
            "relayctl launch --machine laptop-alice --wait --timeout 2m -- --model opus",
            "relayctl launch --machine build-box-3 --json | jq -r .launch.session_id")
        {
            machine, cwd, prompt, name, wait, timeout, expiresIn, claudeArgs,
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
            var text = call.ParseResult.GetValue(prompt);
            if (text == "-")
            {
                text = await context.Input.ReadToEndAsync(cancellationToken);
                if (string.IsNullOrWhiteSpace(text))
                {
                    throw new CliException(ExitCodes.Usage, "--prompt - read an empty prompt from stdin.");
                }
            }

            var request = new LaunchSessionRequest
            {
                LaunchId = Guid.CreateVersion7().ToString(),
                Machine = call.ParseResult.GetRequiredValue(machine),
                Cwd = call.ParseResult.GetValue(cwd) ?? string.Empty,
                Name = call.ParseResult.GetValue(name) ?? string.Empty,
                Prompt = text ?? string.Empty,
                ClaudeArgs = { call.ParseResult.GetValue(claudeArgs) ?? [] },
            };
            if (call.ParseResult.GetValue(expiresIn) is { } expiry)
            {
                request.ExpiresIn = Duration.FromTimeSpan(expiry);
            }

            var waitFor = call.ParseResult.GetValue(timeout) ?? DefaultWait;
            LaunchSessionResponse response;
            if (call.ParseResult.GetValue(wait))
            {
                request.WaitForStart = true;
                request.WaitTimeout = Duration.FromTimeSpan(waitFor);
                await using var spinner = Spinner.Start(context, "Launch " + request.LaunchId + " requested; waiting up to " + Show.Duration(waitFor) + " for " + request.Machine + " to start Claude...");
                response = await call.Admin.LaunchSessionAsync(request, BrokerConnection.Call(cancellationToken, waitFor + DeadlineMargin));
            }
            else
            {
                response = await call.Admin.LaunchSessionAsync(request, BrokerConnection.Call(cancellationToken));
            }

            return Report(call.Printer, response, request.WaitForStart, waitFor);
        });
        return command;
    }

    private static int Report(Printer printer, LaunchSessionResponse response, bool waited, TimeSpan waitFor)
    {
        var launch = response.Launch;
        if (printer.Json)
        {
            printer.Message(response);
        }
        else
        {
            printer.Fields(
            [
                ("Launch", launch.LaunchId), ("Session", launch.SessionId), ("Machine", launch.MachineName), ("Status", printer.State(launch.Status)),
                ("Directory", Show.Text(launch.Cwd)), ("Name", Show.Text(launch.Name)), ("Prompt", Show.Text(launch.InitialPromptId)),
            ]);
        }

        if (launch.Status == LaunchStatus.Failed)
        {
            printer.Note("relayctl: the launch failed: " + Show.Text(launch.Error));
            return ExitCodes.Error;
        }

        if (waited && (response.WaitTimedOut || launch.Status != LaunchStatus.Started))
        {
            printer.Note("relayctl: " + launch.MachineName + " did not report the start within " + Show.Duration(waitFor) + "; the launch is "
                + Show.Enum(launch.Status) + " (follow it with 'relayctl watch --kind launch-updated', or wait longer with --timeout).");
            return ExitCodes.Timeout;
        }

        return ExitCodes.Success;
    }
}
