using System.Diagnostics;
using System.Text.Json.Nodes;
using Relay.Agent.Link;
using Relay.Agent.Local;
using Relay.Agent.Sessions;
using Relay.Agent.Tests.Local;
using Relay.Agent.Tests.Local.Fakes;
using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;
using static Relay.Agent.Tests.Local.Messages;
using Relay.Tests.Shared;

namespace Relay.Agent.Tests.Sessions;

public sealed class SessionTrackingTests
{
    [Fact]
    public async Task Clear_NewClaudeIdFromTheSameProcess_BecomesPartOfOneSessionsLineage()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        var (first, second) = (NewClaudeId(), NewClaudeId());

        await agent.HookAsync("SessionStart", first, pid: 4001, fields: new JsonObject { ["source"] = "startup" }, cancellationToken: ct);
        await agent.HookAsync("SessionEnd", first, pid: 4001, fields: new JsonObject { ["reason"] = "clear" }, cancellationToken: ct);
        await agent.HookAsync("SessionStart", second, pid: 4001, fields: new JsonObject { ["source"] = "clear" }, cancellationToken: ct);
        // Later http hooks (no pid) carry only the new id and still land on the same session.
        await agent.HookAsync("PreToolUse", second, cancellationToken: ct);

        var session = agent.Get<ISessionTracker>().Snapshot().Should().ContainSingle().Subject;
        session.ClaudeSessionIds.Should().Equal(first, second);
        session.Session.ClaudeSessionId.Should().Be(second);
        session.Session.ClaudePid.Should().Be(4001);
    }

    [Fact]
    public async Task HttpHookFirst_StaysPidlessUntilACommandHookTiesItToItsProcess()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        var claude = NewClaudeId();

        var evidence = agent.Get<ISessionTracker>();
        await agent.HookAsync("PreToolUse", claude, cancellationToken: ct);
        evidence.Snapshot().Should().ContainSingle().Which.Session.ClaudePid.Should().Be(0);

        await agent.HookAsync("SessionStart", claude, pid: 4002, fields: new JsonObject { ["source"] = "resume" }, cancellationToken: ct);
        var session = evidence.Snapshot().Should().ContainSingle().Subject;
        session.Session.ClaudePid.Should().Be(4002);
        session.ClaudeSessionIds.Should().Equal(claude);
    }

    [Fact]
    public void ReusedPid_WithAnotherStartTime_IsANewProcess()
    {
        var probe = new ReusingProbe(new FakeProcessProbe());
        var tracker = new SessionTracker(probe, new ManualTimeProvider(), Microsoft.Extensions.Options.Options.Create(new LocalAgentOptions()));
        var old = tracker.ObserveChannel(Hello(4003, NewClaudeId()));
        probe.StartTicks = 999; // the old Claude exited and another process got its pid

        var fresh = tracker.ObserveChannel(Hello(4003, NewClaudeId()));

        fresh.Id.Should().NotBe(old.Id);
        tracker.RemoveGone().Should().ContainSingle().Which.Id.Should().Be(old.Id);
        tracker.Snapshot().Should().ContainSingle().Which.Session.ClaudeSessionId.Should().Be(fresh.ClaudeSessionId);
    }

    [Fact]
    public async Task Binding_FromTheBroker_NamesTheSessionAndUpdatesItsChannel()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        var claude = NewClaudeId();
        using var channel = await agent.AttachAsync(Hello(4004, claude), ct);
        channel.Attachment.SessionId.Should().BeEmpty();
        var relayId = Guid.NewGuid().ToString("D");

        agent.Get<IBrokerInbound>().HandleState(new BrokerMessage
        {
            SessionBinding = new SessionBinding { SessionId = relayId, Name = "reviewer", ClaudeSessionIds = { claude }, ClaudePid = 4004 },
        });

        var updated = (await channel.ReadUntilAsync(m => m.AttachmentUpdated is not null, ct)).AttachmentUpdated;
        updated.SessionId.Should().Be(relayId);
        updated.Name.Should().Be("reviewer");
        updated.ChannelId.Should().Be(channel.Attachment.ChannelId);

        // A prompt addressed by the Relay session id alone now finds it.
        var prompt = Prompt(sessionId: relayId);
        await agent.InboundAsync(new BrokerMessage { Seq = 1, PromptDelivery = prompt }, ct);
        (await channel.ReadUntilAsync(m => m.Prompt is not null, ct)).Prompt.PromptId.Should().Be(prompt.PromptId);

        agent.Link.SetConnected(true);
        (await channel.ReadUntilAsync(m => m.AttachmentUpdated is not null, ct)).AttachmentUpdated.BrokerConnected.Should().BeTrue();
    }

    [Fact]
    public async Task Welcome_SpoolsASnapshotOfTheLiveSessions()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        var claude = NewClaudeId();
        using var channel = await agent.AttachAsync(Hello(4005, claude), ct);

        await agent.Get<IBrokerInbound>().OnWelcomeAsync(new Welcome { MachineId = "m-1", MachineName = "devbox-renamed" }, ct);

        var snapshot = (await agent.Spool.WaitForAsync(m => m.SessionSnapshot != null, ct)).SessionSnapshot;
        var live = snapshot.Sessions.Should().ContainSingle().Subject;
        live.Session.ClaudePid.Should().Be(4005);
        live.ChannelAttached.Should().BeTrue();
        live.ClaudeSessionIds.Should().Equal(claude);
    }

    [Fact]
    public async Task ProcessGone_TheTimerSpoolsASnapshotWithoutIt()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync(o => o.RealProcesses = true);
        using var survivor = Process.Start("sleep", "300");
        using var doomed = Process.Start("sleep", "300");
        try
        {
            var (kept, ended) = (NewClaudeId(), NewClaudeId());
            await agent.HookAsync("SessionStart", kept, pid: survivor.Id, cancellationToken: ct);
            await agent.HookAsync("SessionStart", ended, pid: doomed.Id, cancellationToken: ct);
            agent.Get<ISessionTracker>().Snapshot().Should().HaveCount(2);
            agent.Get<ISessionTracker>().Snapshot().Should().OnlyContain(s => s.Session.ClaudeStartedAt != null);

            doomed.Kill();
            await doomed.WaitForExitAsync(ct);
            await agent.Time.WaitForTimerAsync((_, period) => period == new LocalAgentOptions().TickInterval, ct);
            agent.Time.Advance(new LocalAgentOptions().TickInterval);

            var snapshot = (await agent.Spool.WaitForAsync(m => m.SessionSnapshot != null, ct)).SessionSnapshot;
            snapshot.Sessions.Should().ContainSingle().Which.Session.ClaudeSessionId.Should().Be(kept);
            snapshot.Sessions[0].Session.ClaudePid.Should().Be(survivor.Id);
        }
        finally
        {
            survivor.Kill();
            doomed.Kill();
        }
    }

    [Theory]
    [InlineData("1234 (claude) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 11 0 987654 1000 10 18446744073709551615", 987654L)]
    [InlineData("77 (we (ird) name) R 1 77 77 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 11 0 42 1000 10 1", 42L)]
    [InlineData("77 (truncated", null)]
    public void ParseStartTicks_StatLine_ReadsField22AfterTheCommandName(string stat, long? expected) =>
        ProcProcessProbe.ParseStartTicks(stat).Should().Be(expected);

    [Fact]
    public void Probe_ThisProcess_HasStartTimeAndCommandLine()
    {
        var self = new ProcProcessProbe().Probe(Environment.ProcessId);

        self.Should().NotBeNull();
        self!.StartTicks.Should().BePositive();
        self.StartedAt.Should().BeBefore(DateTimeOffset.UtcNow).And.BeAfter(DateTimeOffset.UtcNow.AddDays(-1));
        self.CommandLine.Should().NotBeEmpty();
        new ProcProcessProbe().Probe(int.MaxValue).Should().BeNull();
    }

    /// <summary>The fake probe's processes, with one pid whose start ticks the test changes (the pid was reused).</summary>
    private sealed class ReusingProbe(IProcessProbe inner) : IProcessProbe
    {
        public long StartTicks { get; set; } = 4003;

        public ProcessInfo? Probe(int pid) => inner.Probe(pid) is { } info && pid == 4003 ? info with { StartTicks = StartTicks } : inner.Probe(pid);
    }
}
