using System.CommandLine;
using Google.Protobuf;
using Relay.Cli.Internal;
using Relay.Protocol.V1;

namespace Relay.Cli.Commands;

/// <summary><c>relayctl policy show|set</c>: the messaging policy (who may see, message and launch where).</summary>
internal static class PolicyCommand
{
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default);

    public static Command Create(CliContext context)
    {
        var command = new RelayCommand("policy",
            "Show or replace the messaging policy: ordered rules deciding who may view, message and launch which sessions.",
            "relayctl policy show",
            "relayctl policy show --json > policy.json && $EDITOR policy.json && relayctl policy set policy.json");
        command.Subcommands.Add(ShowCommand(context));
        command.Subcommands.Add(SetCommand(context));
        return command;
    }

    private static RelayCommand ShowCommand(CliContext context)
    {
        var command = new RelayCommand("show",
            "Show the policy's rules in order (the first matching rule decides; built-in defaults apply when none matches).",
            "relayctl policy show",
            "relayctl policy show --json > policy.json");
        command.SetBrokerAction(context, async (call, cancellationToken) =>
        {
            var policy = await call.Admin.GetPolicyAsync(new GetPolicyRequest(), BrokerConnection.Call(cancellationToken));
            Print(call.Printer, policy);
            return ExitCodes.Success;
        });
        return command;
    }

    private static RelayCommand SetCommand(CliContext context)
    {
        var file = new Argument<string>("file") { Description = "JSON policy as printed by 'policy show --json'; '-' reads it from stdin." };
        var ifMatch = new Option<string?>("--if-match") { Description = "Only replace the policy if its etag is still this (default: the etag in the file).", HelpName = "etag" };
        var force = new Option<bool>("--force") { Description = "Replace the policy even if it changed since the file was read." };
        var command = new RelayCommand("set",
            "Replace the whole policy (admin role). Refused (exit code 1) when someone changed it since the file's etag; re-read it or use --force.",
            "relayctl policy set policy.json",
            "echo '{\"rules\":[{\"description\":\"no launches on prod\",\"action\":\"POLICY_ACTION_LAUNCH\",\"target\":{\"machine\":\"prod-1\"},\"effect\":\"POLICY_EFFECT_DENY\"}]}' | relayctl policy set - --force")
        {
            file, ifMatch, force,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(force) && result.GetResult(ifMatch) is { Implicit: false })
            {
                result.AddError("--force and --if-match cannot be combined.");
            }
        });
        command.SetBrokerAction(context, async (call, cancellationToken) =>
        {
            var path = call.ParseResult.GetRequiredValue(file);
            var json = path == "-" ? await context.Input.ReadToEndAsync(cancellationToken) : await Input.ReadFileAsync(new FileInfo(path), cancellationToken);
            Policy policy;
            try
            {
                policy = Parser.Parse<Policy>(json);
            }
            catch (Exception e) when (e is InvalidProtocolBufferException or InvalidJsonException or FormatException)
            {
                throw new CliException(ExitCodes.Usage, (path == "-" ? "stdin" : path) + " is not a policy: " + e.Message
                    + " (start from 'relayctl policy show --json').");
            }

            var expected = call.ParseResult.GetValue(force) ? string.Empty : call.ParseResult.GetValue(ifMatch) ?? policy.Etag;
            var updated = await call.Admin.SetPolicyAsync(new SetPolicyRequest { Policy = policy, ExpectedEtag = expected }, BrokerConnection.Call(cancellationToken));
            if (call.Printer.Json)
            {
                call.Printer.Message(updated);
            }
            else
            {
                call.Printer.Note("Policy replaced: " + updated.Rules.Count + " rule(s), etag " + updated.Etag + ".");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static void Print(Printer printer, Policy policy)
    {
        if (printer.Json)
        {
            printer.Message(policy);
            return;
        }

        printer.Table(
            ["#", "ACTION", "EFFECT", "SUBJECT", "TARGET", "DESCRIPTION"],
            policy.Rules.Select((r, i) => (IReadOnlyList<string>)
            [
                Show.Number(i + 1), Show.Enum(r.Action), printer.Paint(Show.Enum(r.Effect), r.Effect == PolicyEffect.Deny ? Tone.Bad : Tone.Good),
                Subject(r.Subject), Target(r.Target), Show.Text(r.Description),
            ]));
        printer.Note(policy.UpdatedAt is null
            ? "The policy was never set: the built-in defaults apply (view and message allowed; launch for operators and admins)."
            : "Etag " + policy.Etag + ", last set " + Show.Time(policy.UpdatedAt) + " by " + Show.Principal(policy.UpdatedBy) + ".");
    }

    private static string Subject(PolicySubject? s)
    {
        if (s is null)
        {
            return "anyone";
        }

        var parts = new List<string>();
        if (s.Kind != PrincipalKind.Unspecified)
        {
            parts.Add(Show.Enum(s.Kind));
        }

        if (s.MinRole != Role.Unspecified)
        {
            parts.Add("role>=" + Show.Enum(s.MinRole));
        }

        if (s.Machine.Length > 0)
        {
            parts.Add("machine=" + s.Machine);
        }

        if (s.SessionName.Length > 0)
        {
            parts.Add("name=" + s.SessionName);
        }

        return parts.Count == 0 ? "anyone" : string.Join(' ', parts);
    }

    private static string Target(PolicyTarget? t)
    {
        if (t is null)
        {
            return "anything";
        }

        var parts = new List<string>();
        if (t.Machine.Length > 0)
        {
            parts.Add("machine=" + t.Machine);
        }

        if (t.SessionName.Length > 0)
        {
            parts.Add("name=" + t.SessionName);
        }

        if (t.Directory.Length > 0)
        {
            parts.Add("dir=" + t.Directory);
        }

        return parts.Count == 0 ? "anything" : string.Join(' ', parts);
    }
}
