using System.CommandLine;
using Google.Protobuf.WellKnownTypes;
using Relay.Cli.Internal;
using Relay.Protocol.V1;

namespace Relay.Cli.Commands;

/// <summary><c>relayctl send &lt;session&gt; &lt;text&gt; [--wait] [--timeout]</c>: a prompt to a session, optionally awaiting the reply.</summary>
internal static class SendCommand
{
    /// <summary>How long --wait waits when no --timeout is given.</summary>
    public static readonly TimeSpan DefaultWait = TimeSpan.FromMinutes(5);

    // The gRPC deadline outlives the broker-side wait, so a slow reply ends as "timed out" with the prompt's state,
    // not as a bare DEADLINE_EXCEEDED.
    private static readonly TimeSpan DeadlineMargin = TimeSpan.FromSeconds(15);

    public static Command Create(CliContext context)
    {
        var session = SessionsCommand.SessionArgument();
        var text = new Argument<string>("text") { Description = "The prompt; '-' reads it from stdin." };
        var wait = new Option<bool>("--wait") { Description = "Wait for the reply and print it." };
        var timeout = BrokerAction.DurationOption("--timeout", "With --wait: how long to wait for the reply (default 5m); exit code 6 when it does not come.");
        var machine = SessionsCommand.MachineScopeOption();
        var command = new RelayCommand("send",
            "Send a prompt to a session (named by Relay id, Claude session id, launch id, name or id prefix). Prints the prompt id, or with --wait the reply.",
            "relayctl send api-refactor \"run the tests and summarise failures\"",
            "git diff | relayctl send 3f2a9c - --wait --timeout 10m",
            "relayctl send api-refactor \"status?\" --wait --json | jq -r '.replies[0].text'",
            "relayctl send 0b4f1e2a-... \"continue\" --machine build-box-3")
        {
            session, text, wait, timeout, machine,
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
            var body = call.ParseResult.GetRequiredValue(text);
            if (body == "-")
            {
                body = await context.Input.ReadToEndAsync(cancellationToken);
            }

            if (string.IsNullOrWhiteSpace(body))
            {
                throw new CliException(ExitCodes.Usage, "the prompt text is empty.");
            }

            var request = new SendPromptRequest
            {
                PromptId = Guid.CreateVersion7().ToString(),
                Session = BrokerAction.Selector(call.ParseResult.GetRequiredValue(session), call.ParseResult.GetValue(machine)),
                Text = body,
            };
            var waitFor = call.ParseResult.GetValue(timeout) ?? DefaultWait;
            var waiting = call.ParseResult.GetValue(wait);
            SendPromptResponse response;
            if (waiting)
            {
                request.WaitUntil = PromptStatus.Replied;
                request.WaitTimeout = Duration.FromTimeSpan(waitFor);
                await using var spinner = Spinner.Start(context, "Sent prompt " + request.PromptId + "; waiting up to " + Show.Duration(waitFor) + " for the reply...");
                response = await call.Admin.SendPromptAsync(request, BrokerConnection.Call(cancellationToken, waitFor + DeadlineMargin));
            }
            else
            {
                response = await call.Admin.SendPromptAsync(request, BrokerConnection.Call(cancellationToken));
            }

            if (call.Printer.Json)
            {
                call.Printer.Message(response);
            }

            return waiting ? Report(call.Printer, response, waitFor) : Sent(call.Printer, response);
        });
        return command;
    }

    private static int Sent(Printer printer, SendPromptResponse response)
    {
        if (!printer.Json)
        {
            printer.Output.WriteLine(response.Prompt.PromptId);
            printer.Note("Prompt " + Show.Enum(response.Prompt.Status) + " for session "
                + (string.IsNullOrEmpty(response.Prompt.SessionName) ? response.Prompt.SessionId : response.Prompt.SessionName) + ".");
        }

        return ExitCodes.Success;
    }

    private static int Report(Printer printer, SendPromptResponse response, TimeSpan waitFor)
    {
        var prompt = response.Prompt;
        if (prompt.Status is PromptStatus.Failed or PromptStatus.Expired)
        {
            printer.Note("relayctl: prompt " + prompt.PromptId + " " + Show.Enum(prompt.Status) + ": " + Show.Text(prompt.FailureReason));
            return ExitCodes.Error;
        }

        if (response.WaitTimedOut || response.Replies.Count == 0)
        {
            printer.Note("relayctl: no reply within " + Show.Duration(waitFor) + "; prompt " + prompt.PromptId + " is " + Show.Enum(prompt.Status)
                + " (a reply may still come: follow it with 'relayctl watch " + prompt.SessionId + " --kind reply', or wait longer with --timeout).");
            return ExitCodes.Timeout;
        }

        if (!printer.Json)
        {
            foreach (var reply in response.Replies)
            {
                printer.Output.WriteLine(reply.Text);
            }
        }

        return ExitCodes.Success;
    }
}
