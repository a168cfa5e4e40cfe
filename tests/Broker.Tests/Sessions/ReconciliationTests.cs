using Relay.Broker.Persistence.Entities;
using Relay.Broker.Tests.AgentLink;
using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;
using static Relay.Broker.Tests.AgentLink.AgentMessages;
using SessionSegment = Relay.Broker.Persistence.Entities.SessionSegment;
using SessionStatus = Relay.Broker.Persistence.Entities.SessionStatus;

namespace Relay.Broker.Tests.Sessions;

[Collection(PostgresCollection.Name)]
public sealed class ReconciliationTests(PostgresFixture postgres) : ConnectedAgentTest<ReconciliationTests>(postgres)
{
    [Fact]
    public async Task Clear_NewClaudeIdFromSameProcess_BecomesSegmentOfSameSession()
    {
        var (c1, c2) = (Guid.NewGuid(), Guid.NewGuid());
        await Commit(
            SessionStart(Evidence(c1, pid: 100), SessionStartSource.Startup),
            Hook(Evidence(c1, pid: 100), "UserPromptSubmit"),
            SessionEnd(Evidence(c1, pid: 100), "clear"),
            SessionStart(Evidence(c2, pid: 100), SessionStartSource.Clear));

        var session = (await Sessions()).Single();
        session.Status.Should().Be(SessionStatus.Idle);
        (await Lineage(session)).Select(s => (s.ClaudeSessionId, s.Source)).Should().Equal((c1, SegmentSource.Startup), (c2, SegmentSource.Clear));
    }

    [Fact]
    public async Task Clear_HooksWithoutPid_StillOneSession()
    {
        var (c1, c2) = (Guid.NewGuid(), Guid.NewGuid());
        await Commit(
            SessionStart(Evidence(c1, cwd: "/work/clear-no-pid"), SessionStartSource.Startup),
            SessionEnd(Evidence(c1, cwd: "/work/clear-no-pid"), "clear"),
            SessionStart(Evidence(c2, cwd: "/work/clear-no-pid"), SessionStartSource.Clear));

        var session = (await Sessions()).Single();
        (await Lineage(session)).Select(s => s.ClaudeSessionId).Should().Equal(c1, c2);
    }

    [Fact]
    public async Task Resume_EndedSessionsClaudeIdInNewProcess_ReopensSameSession()
    {
        var c1 = Guid.NewGuid();
        await Commit(SessionStart(Evidence(c1, pid: 200), SessionStartSource.Startup), SessionEnd(Evidence(c1, pid: 200), "prompt_input_exit"));
        (await Sessions()).Single().Status.Should().Be(SessionStatus.Ended);

        await Commit(SessionStart(Evidence(c1, pid: 201), SessionStartSource.Resume));

        var session = (await Sessions()).Single();
        session.Status.Should().Be(SessionStatus.Idle);
        session.ClaudePid.Should().Be(201);
        session.EndedAt.Should().BeNull();
        (await Lineage(session)).Should().ContainSingle();
    }

    [Fact]
    public async Task Fork_NewProcessWithNewId_IsANewSession()
    {
        var (c1, c2) = (Guid.NewGuid(), Guid.NewGuid());
        await Commit(SessionStart(Evidence(c1, pid: 300), SessionStartSource.Startup), SessionStart(Evidence(c2, pid: 301), SessionStartSource.Fork));

        var sessions = await Sessions();
        sessions.Should().HaveCount(2);
        (await Lineage(sessions[1])).Single().Source.Should().Be(SegmentSource.Fork);
    }

    [Fact]
    public async Task Compaction_SameClaudeId_NoNewSegmentAndStatusKept()
    {
        var c1 = Guid.NewGuid();
        await Commit(
            SessionStart(Evidence(c1, pid: 400), SessionStartSource.Startup),
            Hook(Evidence(c1, pid: 400), "UserPromptSubmit"),
            Hook(Evidence(c1, pid: 400), "PreCompact", f => f.CompactTrigger = "auto"),
            SessionStart(Evidence(c1, pid: 400), SessionStartSource.Compact));

        var session = (await Sessions()).Single();
        session.Status.Should().Be(SessionStatus.Working);
        (await Lineage(session)).Should().ContainSingle();
    }

    [Fact]
    public async Task TwoSessionsInOneDirectory_TwoCards()
    {
        await Commit(
            SessionStart(Evidence(Guid.NewGuid(), pid: 500, cwd: "/work/shared-dir"), SessionStartSource.Startup),
            SessionStart(Evidence(Guid.NewGuid(), pid: 501, cwd: "/work/shared-dir"), SessionStartSource.Startup));

        (await Sessions()).Where(s => s.Cwd == "/work/shared-dir").Should().HaveCount(2);
    }

    [Fact]
    public async Task HooksBeforeChannel_AndChannelBeforeHooks_OneSessionEach()
    {
        var (hooksFirst, channelFirst) = (Guid.NewGuid(), Guid.NewGuid());
        await Commit(
            Hook(Evidence(hooksFirst, pid: 600), "UserPromptSubmit"),
            ChannelAttached(Evidence(hooksFirst, pid: 600), "channel-1"),
            ChannelAttached(Evidence(channelFirst, pid: 601), "channel-2"),
            SessionStart(Evidence(channelFirst, pid: 601), SessionStartSource.Startup));

        var sessions = await Sessions();
        sessions.Should().HaveCount(2);
        sessions.Should().OnlyContain(s => s.ChannelAttached);
    }

    [Fact]
    public async Task ChannelReportsSpawnIdAfterClear_StaysWithTheSession()
    {
        var (c1, c2) = (Guid.NewGuid(), Guid.NewGuid());
        await Commit(
            ChannelAttached(Evidence(c1, pid: 700), "channel-7"),
            SessionStart(Evidence(c1, pid: 700), SessionStartSource.Startup),
            SessionEnd(Evidence(c1, pid: 700), "clear"),
            SessionStart(Evidence(c2, pid: 700), SessionStartSource.Clear),
            ChannelAttached(Evidence(c1, pid: 700), "channel-8"));

        var session = (await Sessions()).Single();
        session.ChannelId.Should().Be("channel-8");
        (await Lineage(session)).Select(s => s.ClaudeSessionId).Should().Equal(c1, c2);
    }

    [Fact]
    public async Task Snapshot_EndsSessionsNotListed_AndAdoptsUnknownOnes()
    {
        var (kept, ghost, unknown) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        await Commit(SessionStart(Evidence(kept, pid: 800), SessionStartSource.Startup), SessionStart(Evidence(ghost, pid: 801), SessionStartSource.Startup));

        await Commit(Snapshot(Live(Evidence(kept, pid: 800), channelAttached: true), Live(Evidence(unknown, pid: 802))));

        var sessions = await Sessions();
        sessions.Should().HaveCount(3);
        var byClaudeId = new Dictionary<Guid, RelaySession>();
        foreach (var s in sessions)
        {
            byClaudeId[(await Lineage(s)).Single().ClaudeSessionId] = s;
        }

        byClaudeId[kept].Status.Should().NotBe(SessionStatus.Ended);
        byClaudeId[kept].ChannelAttached.Should().BeTrue();
        byClaudeId[ghost].Status.Should().Be(SessionStatus.Ended);
        byClaudeId[ghost].EndReason.Should().Be("not_in_snapshot");
        byClaudeId[unknown].Status.Should().NotBe(SessionStatus.Ended);
        Agent.Received().Should().Contain(m => m.SessionBinding != null && m.SessionBinding.Ended && m.SessionBinding.SessionId == byClaudeId[ghost].Id.ToString("D"));
    }

    [Fact]
    public async Task LaunchedSession_EvidenceWithLaunchId_JoinsTheReservedSession()
    {
        var launchId = Guid.NewGuid();
        var reserved = new RelaySession
        {
            Id = Guid.NewGuid(), MachineId = Agent.MachineId, Cwd = "/work/launched", LaunchId = launchId, Name = "reviewer",
            Status = SessionStatus.Starting, CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow,
        };
        await using (var db = Database.CreateContext())
        {
            db.Sessions.Add(reserved);
            await db.SaveChangesAsync(Token);
        }

        var c1 = Guid.NewGuid();
        await Commit(SessionStart(Evidence(c1, pid: 900, cwd: "/work/launched", launchId: launchId), SessionStartSource.Startup));

        var session = (await Sessions()).Single();
        session.Id.Should().Be(reserved.Id);
        session.Status.Should().Be(SessionStatus.Idle);
        session.ClaudePid.Should().Be(900);
        (await Lineage(session)).Single().ClaudeSessionId.Should().Be(c1);
    }

    [Fact]
    public async Task Status_FollowsHooks()
    {
        var c1 = Guid.NewGuid();
        var e = Evidence(c1, pid: 1000);
        await Commit(SessionStart(e, SessionStartSource.Startup));
        (await Sessions()).Single().Status.Should().Be(SessionStatus.Idle);
        await Commit(Hook(e, "UserPromptSubmit"));
        (await Sessions()).Single().Status.Should().Be(SessionStatus.Working);
        await Commit(Hook(e, "PermissionRequest", f => f.ToolName = "Bash"));
        (await Sessions()).Single().Status.Should().Be(SessionStatus.WaitingForApproval);
        await Commit(Hook(e, "PostToolUse", f => f.ToolName = "Bash"));
        (await Sessions()).Single().Status.Should().Be(SessionStatus.Working);
        await Commit(Hook(e, "Stop"));
        (await Sessions()).Single().Status.Should().Be(SessionStatus.WaitingForInput);
        await Commit(Hook(e, "Notification", f => f.NotificationType = "idle_prompt"));
        (await Sessions()).Single().Status.Should().Be(SessionStatus.Idle);
        await Commit(SessionEnd(e, "logout"));
        var ended = (await Sessions()).Single();
        ended.Status.Should().Be(SessionStatus.Ended);
        ended.EndReason.Should().Be("exited");
    }

    private Task Commit(params AgentMessage[] messages) => AgentLinkHarness.SendAndCommitAsync(Agent, Token, messages);

    private Task<List<RelaySession>> Sessions() => AgentLinkHarness.SessionsOfAsync(Database, Agent.MachineId, Token);

    private Task<List<SessionSegment>> Lineage(RelaySession session) => AgentLinkHarness.LineageAsync(Database, session.Id, Token);
}
