using System.Text.Json;
using Relay.Broker.Tests.Infrastructure;
using Relay.EndToEnd.Tests.Infrastructure;
using Relay.Tests.Shared.ClaudeCode;

namespace Relay.EndToEnd.Tests.Scenarios;

/// <summary>
/// Scenario 6: the real Claude Code asks for permission (Bash is not in <c>--allowedTools</c>, so PermissionRequest
/// fires into the agent's http hook, which holds it for a remote verdict); one request is allowed and the next denied
/// with <c>relayctl approvals allow|deny</c>, and Claude Code acts on each verdict.
/// </summary>
[Collection(RelayClusterCollection.Name)]
public sealed class ApprovalTests(RelayCluster cluster)
{
    [ClaudeCodeFact]
    public async Task PermissionRequests_AllowedAndDeniedFromRelayctl_ClaudeCodeSeesBothVerdicts()
    {
        using var timeout = TestTimeout.Start();
        var machine = cluster.B;
        var sessionId = Guid.NewGuid();
        var marker = Guid.NewGuid().ToString("N")[..10];
        await using var stub = await MessagesApiStub.StartAsync(timeout.Token);
        // Write needs a permission in -p (read-only Bash such as echo would be allowed without asking).
        var allowedFile = Path.Combine(machine.Home.ProjectDirectory, "allowed-" + marker + ".txt");
        var deniedFile = Path.Combine(machine.Home.ProjectDirectory, "denied-" + marker + ".txt");
        stub.EnqueueToolUse("Write", new { file_path = allowedFile, content = "allowed\n" })
            .EnqueueToolUse("Write", new { file_path = deniedFile, content = "denied\n" })
            .EnqueueText("Both verdicts seen.");

        var run = machine.RunClaudeAsync(stub, machine.ClaudeOptions("Run two commands.", sessionId, []), timeout.Token);
        var first = await PendingApprovalAsync(sessionId, "allowed-" + marker, run, timeout.Token);
        await cluster.Relayctl.JsonAsync("approvals", "allow", first.GetProperty("approval_id").GetString()!, "--reason", "fine");
        var second = await PendingApprovalAsync(sessionId, "denied-" + marker, run, timeout.Token);
        await cluster.Relayctl.JsonAsync("approvals", "deny", second.GetProperty("approval_id").GetString()!, "--reason", "not this one " + marker);
        var result = await run;

        result.ExitCode.Should().Be(0, result.Describe());
        result.ResultText.Should().Be("Both verdicts seen.");
        var turns = stub.TurnRequests;
        var allowed = turns[^2].LastToolResults.Single();
        ((bool?)allowed["is_error"] ?? false).Should().BeFalse("the allowed write ran: {0}", allowed.ToJsonString());
        File.Exists(allowedFile).Should().BeTrue();
        var denied = turns[^1].LastToolResults.Single();
        ((bool?)denied["is_error"]).Should().BeTrue("the denied write did not run: {0}", denied.ToJsonString());
        denied.ToJsonString().Should().Contain("not this one " + marker);
        File.Exists(deniedFile).Should().BeFalse();

        var decided = await cluster.Relayctl.JsonAsync("approvals", "list", "--all");
        decided.ToString().Should().Contain(first.GetProperty("approval_id").GetString()).And.Contain(second.GetProperty("approval_id").GetString());
    }

    // The pending approval of this session whose tool input holds the marker; fails early when Claude exits first.
    private async Task<JsonElement> PendingApprovalAsync(Guid sessionId, string marker, Task<ClaudeCodeRunResult> run, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 300; attempt++)
        {
            var pending = await cluster.Relayctl.JsonAsync("approvals", "list");
            var match = pending.GetProperty("approvals").EnumerateArray()
                .FirstOrDefault(a => (a.GetProperty("tool_input_json").GetString() ?? string.Empty).Contains(marker, StringComparison.Ordinal));
            if (match.ValueKind == JsonValueKind.Object)
            {
                return match;
            }

            if (run.IsCompleted)
            {
                throw new InvalidOperationException($"claude exited before asking for {marker}:\n{(await run).Describe()}");
            }

            cancellationToken.ThrowIfCancellationRequested();
            await Task.Delay(TimeSpan.FromMilliseconds(200), CancellationToken.None);
        }

        throw new TimeoutException($"No pending approval for {marker} in session {sessionId}.");
    }
}
