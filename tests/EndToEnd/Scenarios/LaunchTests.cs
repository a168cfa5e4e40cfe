using System.Text.Json;
using Relay.Broker.Tests.Infrastructure;
using Relay.EndToEnd.Tests.Infrastructure;
using Relay.Tests.Shared.ClaudeCode;

namespace Relay.EndToEnd.Tests.Scenarios;

/// <summary>
/// Scenario 7: <c>relayctl launch --machine B --prompt …</c> makes machine B's agent start the real interactive Claude
/// Code in its tmux server (with <c>--session-id</c>, <c>RELAY_LAUNCH_ID</c> and the channel flag), and the first
/// prompt is handed to the new session, recorded with the path it took. Offline the CLI keeps channel injection behind
/// a closed feature gate: what the channel path promises (relay-channel wrote the event) is asserted, not that Claude
/// read it.
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

        // Offline, Claude Code 2.1.328 starts with "--dangerously-load-development-channels ignored" (its channels
        // feature gate is remote). The launcher sees that, so the agent keeps the prompt for the session's hooks instead
        // of pushing it into a channel Claude drops (which would be recorded as delivered while nobody read it). An idle
        // session fires no hooks: someone typing in it makes Claude take a turn, and the first hook carries the prompt.
        var prompts = new PromptDeliveryTests(cluster);
        if ((await prompts.PromptAsync(session.GetProperty("session_id").GetString()!, token, timeout.Token)).GetProperty("delivery_path").GetString() != "DELIVERY_PATH_CHANNEL")
        {
            await machine.TmuxAsync("send-keys", "-t", session.GetProperty("tmux_target").GetString()!, "hello", "Enter");
        }

        var delivered = await WaitForStatusAsync(prompts, session.GetProperty("session_id").GetString()!, token, timeout.Token);
        delivered.GetProperty("status").GetString().Should().BeOneOf(["PROMPT_STATUS_DELIVERED", "PROMPT_STATUS_SEEN", "PROMPT_STATUS_REPLIED"], delivered.ToString());
        delivered.GetProperty("delivered_to_claude_session_id").GetString().Should().Be(claudeId);
        var path = delivered.GetProperty("delivery_path").GetString();
        path.Should().BeOneOf(["DELIVERY_PATH_CHANNEL", "DELIVERY_PATH_HOOK_CONTEXT", "DELIVERY_PATH_HOOK_STOP_BLOCK"], delivered.ToString());
        if (path != "DELIVERY_PATH_CHANNEL")
        {
            // A hook carried it: Claude's next request holds the text.
            await cluster.LaunchStub.WaitForRequestAsync(r => r.MessagesContain(token), timeout.Token);
        }

        // (With the channels gate open, the channel path delivers it instead; offline it never does.)
    }

    private static async Task<JsonElement> WaitForStatusAsync(PromptDeliveryTests prompts, string session, string token, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var prompt = await prompts.PromptAsync(session, token, cancellationToken);
            if (prompt.GetProperty("status").GetString() is not ("PROMPT_STATUS_PENDING" or "PROMPT_STATUS_SENT") || attempt >= 150)
            {
                return prompt;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(300), CancellationToken.None);
        }
    }

    private static string? FindString(JsonElement element, string property) => element.ValueKind switch
    {
        JsonValueKind.Object => element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : element.EnumerateObject().Select(p => FindString(p.Value, property)).FirstOrDefault(v => v is not null),
        _ => null,
    };
}
