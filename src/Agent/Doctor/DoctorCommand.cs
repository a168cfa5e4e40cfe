using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Relay.Agent.Config;
using Relay.Agent.Install;
using Relay.Agent.Launch;
using Relay.Protocol.Local;

namespace Relay.Agent.Doctor;

/// <summary><c>relay-agent doctor [--json]</c>: exit 0 when nothing failed, 1 otherwise.</summary>
internal static class DoctorCommand
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print the checks as JSON." };
        var command = new Command("doctor", "Check this machine's set-up: Claude Code, tmux, enrolment, the daemon, the installation.") { json };
        command.SetAction(async (result, cancellationToken) =>
        {
            var setting = new DoctorSetting(
                Environment.GetEnvironmentVariable,
                ClaudeConfigPaths.FromEnvironment(),
                AgentConfigStore.ForCurrentUser(),
                LocalAgentPaths.Socket(),
                ConfiguredLauncherValue("ClaudeCommand") ?? new LauncherOptions().ClaudeCommand,
                ConfiguredLauncherValue("TmuxCommand") ?? new LauncherOptions().TmuxCommand);
            var checks = await new MachineDoctor(setting).RunAsync(cancellationToken);
            Print(checks, result.GetValue(json), result.InvocationConfiguration.Output);
            return ExitCode(checks);
        });
        return command;
    }

    /// <summary>0 when no check failed, 1 otherwise.</summary>
    public static int ExitCode(IReadOnlyList<DoctorCheck> checks) => checks.Any(c => c.Status == CheckStatus.Fail) ? 1 : 0;

    /// <summary>One line per check (and its fix on the next), or a JSON document.</summary>
    public static void Print(IReadOnlyList<DoctorCheck> checks, bool json, TextWriter output)
    {
        if (json)
        {
            var document = new JsonObject
            {
                ["ok"] = ExitCode(checks) == 0,
                ["checks"] = new JsonArray([.. checks.Select(c => (JsonNode)new JsonObject
                {
                    ["name"] = c.Name,
                    ["status"] = c.Status.ToString().ToLowerInvariant(),
                    ["detail"] = c.Detail,
                    ["fix"] = c.Fix,
                })]),
            };
            output.WriteLine(document.ToJsonString(Indented));
            return;
        }

        var width = checks.Max(c => c.Name.Length);
        foreach (var check in checks)
        {
            output.WriteLine(check.Status.ToString().ToUpperInvariant().PadRight(6) + check.Name.PadRight(width + 2) + check.Detail);
            if (check.Fix is not null && check.Status != CheckStatus.Ok)
            {
                output.WriteLine(new string(' ', 6 + width + 2) + "fix: " + check.Fix);
            }
        }
    }

    // The daemon reads Agent:Launcher from its configuration; the environment-variable form is what a user unit sets.
    private static string? ConfiguredLauncherValue(string key) =>
        Environment.GetEnvironmentVariable("Agent__Launcher__" + key) is { Length: > 0 } value ? value : null;
}
