using Relay.Broker.Tests.Infrastructure;
using Relay.EndToEnd.Tests.Infrastructure;
using Relay.Tests.Shared.ClaudeCode;

namespace Relay.EndToEnd.Tests.Scenarios;

/// <summary>
/// Scenario 1 (and issue #4's real-CLI proof): the hooks that <c>relay-agent install</c> wrote fire from real
/// <c>claude -p</c> sessions on both machines into their own agents, and the broker stores them under the right machine
/// and the right session, named by Claude's session id.
/// </summary>
[Collection(RelayClusterCollection.Name)]
public sealed class HookAttributionTests(RelayCluster cluster)
{
    [ClaudeCodeFact]
    public async Task ClaudeSessions_OnBothMachines_AreStoredWithTheirMachineSessionAndHooks()
    {
        using var timeout = TestTimeout.Start();
        await using var stub = await MessagesApiStub.StartAsync(timeout.Token);
        // Each run: one Bash call echoing its own marker, then done. Decided per request, so the two runs can interleave.
        stub.Fallback = request => request.AssistantMessages == 0
            ? StubTurn.ToolUse("Bash", new { command = "echo marker-" + request.SessionId, description = "Echo a marker" })
            : StubTurn.Text("Finished " + request.SessionId);

        var runs = new[] { cluster.A, cluster.B }.Select(async machine =>
        {
            var sessionId = Guid.NewGuid();
            var run = await machine.RunClaudeAsync(stub, machine.ClaudeOptions("Echo your marker.", sessionId, ["Bash"]), timeout.Token);
            run.ExitCode.Should().Be(0, run.Describe());
            return (machine, sessionId);
        }).ToList();

        foreach (var (machine, sessionId) in await Task.WhenAll(runs))
        {
            var claudeId = sessionId.ToString();
            var session = await cluster.WaitForSessionAsync(claudeId, s => s.GetProperty("status").GetString() == "SESSION_STATUS_ENDED", timeout.Token);
            session.GetProperty("machine_id").GetString().Should().Be(machine.MachineId);
            session.GetProperty("machine_name").GetString().Should().Be(machine.Name);
            session.GetProperty("claude_session_id").GetString().Should().Be(claudeId);
            session.GetProperty("cwd").GetString().Should().Be(machine.Home.ProjectDirectory);

            var history = await cluster.HistoryAsync(session.GetProperty("session_id").GetString()!, "hook");
            var hooks = RelayCluster.HookNames(history);
            hooks.Should().ContainInOrder("SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop", "SessionEnd");
            foreach (var name in new[] { "SessionStart", "PreToolUse", "PostToolUse", "Stop" })
            {
                hooks.Count(h => h == name).Should().Be(1, "each hook of the run is stored once ({0})", string.Join(", ", hooks));
            }

            history.Should().OnlyContain(e => e.GetProperty("machine_id").GetString() == machine.MachineId);
            history.Select(e => e.GetProperty("hook").GetProperty("session").GetProperty("claude_session_id").GetString())
                .Should().OnlyContain(id => id == claudeId);
            // SessionStart came through the command hook (relay-agent hook, with Claude's pid), the rest over http.
            var start = history.Single(e => e.GetProperty("hook").GetProperty("hook_event_name").GetString() == "SessionStart");
            start.GetProperty("hook").GetProperty("transport").GetString().Should().Be("HOOK_TRANSPORT_COMMAND");
            start.GetProperty("hook").GetProperty("session").GetProperty("claude_pid").GetInt32().Should().BePositive();
        }
    }
}
