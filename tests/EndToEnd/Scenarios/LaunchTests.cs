using System.Diagnostics;
using System.Text.Json;
using Relay.Broker.Tests.Infrastructure;
using Relay.EndToEnd.Tests.Infrastructure;
using Relay.Tests.Shared.ClaudeCode;

namespace Relay.EndToEnd.Tests.Scenarios;

/// <summary>
/// Scenario 7: <c>relayctl launch --machine B --prompt …</c> makes machine B's agent start the real interactive Claude
/// Code in its tmux server (with <c>--session-id</c>, <c>RELAY_LAUNCH_ID</c> and the channel flag), and the first
/// prompt is handed to the new session. Offline the CLI keeps channel injection behind a closed feature gate, so this
/// test records which path the prompt took and asserts what that path promises.
/// </summary>
[Collection(RelayClusterCollection.Name)]
public sealed class LaunchTests(RelayCluster cluster)
{
    [ClaudeCodeFact(RequiresTmux = true)]
    public async Task Launch_OnMachineBWithPrompt_StartsSessionThereAndHandsItThePrompt()
    {
        using var timeout = TestTimeout.Start();
        var machine = cluster.B;
        var token = "launch-" + Guid.NewGuid().ToString("N")[..10];
        // What a user of machine B did once: Claude Code's onboarding and API-key screens are answered.
        machine.Home.PreApproveInteractive(ClaudeCodeEnvironment.ApiKey);
        var claude = Path.Combine(machine.BinDirectory, "claude");
        if (!File.Exists(claude))
        {
            File.CreateSymbolicLink(claude, ClaudeCodeInstallation.EntryPoint);
        }

        cluster.LaunchStub.Fallback = request => request.MessagesContain(token) ? StubTurn.Text("Got " + token) : null;

        var launched = await cluster.Relayctl.RunAsync(
            ["launch", "--machine", machine.Name, "--cwd", machine.Home.ProjectDirectory, "--prompt", token + ": say hello", "--wait", "--timeout", "90s", "--json"],
            TimeSpan.FromSeconds(120));
        launched.ExitCode.Should().Be(0, "launch failed: {0}\n{1}", launched.Stderr, machine.Daemon.Log());
        var launch = launched.Json();
        var launchId = FindString(launch, "launch_id");
        launchId.Should().NotBeNullOrEmpty(launched.Stdout);

        var shown = await cluster.Relayctl.JsonAsync("sessions", "show", launchId!);
        var session = shown.GetProperty("session");
        session.GetProperty("machine_id").GetString().Should().Be(machine.MachineId, "the session runs on machine B");
        session.GetProperty("launch_id").GetString().Should().Be(launchId);
        session.GetProperty("tmux_target").GetString().Should().NotBeEmpty();
        var claudeId = session.GetProperty("claude_session_id").GetString()!;
        Guid.TryParse(claudeId, out _).Should().BeTrue("the launcher pre-assigns Claude's --session-id: {0}", session);

        // The broker hands the prompt to machine B's agent (SENT). Offline Claude Code 2.1.328 ignores channel events (the
        // feature gate is closed), so the channel never acknowledges it, and an idle interactive session fires no hook
        // that could carry it. The next hook does: type a line into the session as its user would.
        var prompts = new PromptDeliveryTests(cluster);
        var relaySessionId = session.GetProperty("session_id").GetString()!;
        JsonElement prompt = default;
        StubRequest? carried = null;
        for (var attempt = 0; attempt < 10 && carried is null; attempt++)
        {
            prompt = await prompts.PromptAsync(relaySessionId, token, timeout.Token);
            if (prompt.GetProperty("status").GetString() != "PROMPT_STATUS_PENDING")
            {
                await TmuxAsync(machine, "send-keys", "-t", session.GetProperty("tmux_target").GetString()!, "-l", "continue " + attempt);
                await TmuxAsync(machine, "send-keys", "-t", session.GetProperty("tmux_target").GetString()!, "Enter");
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
                wait.CancelAfter(TimeSpan.FromSeconds(5));
                carried = await cluster.LaunchStub.WaitForRequestAsync(r => r.MessagesContain(token), wait.Token)
                    .ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null, TaskScheduler.Default);
            }
            else
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), CancellationToken.None);
            }
        }

        carried.Should().NotBeNull("the prompt reaches Claude with the next hook of the session: {0}", prompt);
        var delivered = await WaitForStatusAsync(prompts, relaySessionId, token, timeout.Token);
        delivered.GetProperty("delivery_path").GetString().Should().Be("DELIVERY_PATH_HOOK_CONTEXT", delivered.ToString());
        delivered.GetProperty("delivered_to_claude_session_id").GetString().Should().Be(claudeId);
    }

    private static async Task<JsonElement> WaitForStatusAsync(PromptDeliveryTests prompts, string session, string token, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var prompt = await prompts.PromptAsync(session, token, cancellationToken);
            if (prompt.GetProperty("status").GetString() is not ("PROMPT_STATUS_PENDING" or "PROMPT_STATUS_SENT") || attempt >= 100)
            {
                return prompt;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), CancellationToken.None);
        }
    }

    private static async Task TmuxAsync(RelayMachine machine, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo("tmux", ["-L", machine.TmuxSocketName, .. args]) { RedirectStandardError = true })!;
        await process.WaitForExitAsync();
        process.ExitCode.Should().Be(0, await process.StandardError.ReadToEndAsync());
    }

    private static string? FindString(JsonElement element, string property) => element.ValueKind switch
    {
        JsonValueKind.Object => element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : element.EnumerateObject().Select(p => FindString(p.Value, property)).FirstOrDefault(v => v is not null),
        _ => null,
    };
}
