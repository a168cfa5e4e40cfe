using Relay.Agent.Sessions;
using Relay.Agent.Tests.Local;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Agent.Tests.Sessions;

/// <summary>
/// The session snapshot is a state report the broker ends sessions by: a session missing from it is a ghost. So the list
/// must be taken when the snapshot gets its place in the spool, never before.
/// </summary>
public sealed class SessionSnapshotTests
{
    [Fact]
    public async Task SpoolSnapshotAsync_SessionSeenWhileTheSpoolIsBusy_IsListed()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = await LocalAgentHarness.StartAsync();
        var busy = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        agent.Spool.ComposeGate = busy.Task;
        var claudeSessionId = Guid.NewGuid().ToString();

        var snapshot = agent.Get<SessionLiveness>().SpoolSnapshotAsync(timeout.Token).AsTask();
        // A new session's first hook is observed while the snapshot waits for the spool; its event is spooled after it.
        await agent.HookAsync("SessionStart", claudeSessionId, cancellationToken: timeout.Token);
        busy.SetResult();
        await snapshot.WaitAsync(timeout.Token);

        var spooled = agent.Spool.Messages.Last(m => m.SessionSnapshot is not null).SessionSnapshot;
        spooled.Sessions.SelectMany(s => s.ClaudeSessionIds).Should().Contain(claudeSessionId,
            "the broker would end a session its snapshot leaves out, and this one's SessionStart comes right after it");
    }
}
