using Microsoft.Extensions.DependencyInjection;
using Relay.Broker.AgentLink;
using Relay.Broker.Tests.Infrastructure;
using Relay.Tests.Shared;
using static Relay.Broker.Tests.AgentLink.AgentMessages;
using EventKind = Relay.Broker.Persistence.Entities.EventKind;

namespace Relay.Broker.Tests.AgentLink;

/// <summary>
/// AgentLink:InboundBudgetMessages and InboundBudgetBytes: what the replica holds read and not yet committed, across its
/// streams. The stream tests hold the event-order lock, so nothing commits and the budget stays spent until they let go.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class InboundBudgetTests(PostgresFixture postgres)
{
    private static readonly TimeSpan ProbeLimit = TimeSpan.FromSeconds(30);

    [Fact]
    public void WaitForRoom_UnderBothBounds_CompletesAtOnce()
    {
        var budget = new InboundBudget(maxMessages: 2, maxBytes: 1_000);
        var stream = budget.Open();
        stream.Add(400);

        stream.WaitForRoomAsync(CancellationToken.None).AsTask().IsCompletedSuccessfully.Should().BeTrue();
    }

    [Theory]
    [InlineData(2, 1_000_000, 100)] // the message bound is reached
    [InlineData(10, 1_500, 1_000)] // the byte bound is passed by the second message, as a stream may by one
    public async Task WaitForRoom_BoundReached_WaitsUntilAReleaseMakesRoom(int maxMessages, long maxBytes, int bytesEach)
    {
        using var timeout = TestTimeout.Start();
        var budget = new InboundBudget(maxMessages, maxBytes);
        var (busy, other) = (budget.Open(), budget.Open());
        busy.Add(bytesEach);
        busy.Add(bytesEach);

        var wait = other.WaitForRoomAsync(timeout.Token).AsTask();
        wait.IsCompleted.Should().BeFalse();
        budget.Waiting.Should().Be(1);

        busy.Release(1, bytesEach);

        await wait.WaitAsync(timeout.Token);
        budget.Waiting.Should().Be(0);
    }

    [Fact]
    public async Task WaitForRoom_StreamOverItsShare_WaitsForItsOwnReleaseWhileOthersRead()
    {
        using var timeout = TestTimeout.Start();
        var budget = new InboundBudget(maxMessages: 4, maxBytes: 1_000_000);
        var (busy, other) = (budget.Open(), budget.Open());
        busy.Add(10);
        busy.Add(10);
        other.Add(10);

        // Two streams hold some, so each may hold 2 of the 4; one place is free.
        var wait = busy.WaitForRoomAsync(timeout.Token).AsTask();
        other.WaitForRoomAsync(timeout.Token).AsTask().IsCompletedSuccessfully.Should().BeTrue("the other stream is within its share");
        wait.IsCompleted.Should().BeFalse("without the share the first reader to run takes all the room a commit makes");

        busy.Release(1, 10);

        await wait.WaitAsync(timeout.Token);
    }

    [Fact]
    public async Task Release_SeveralWaitersOneCancelled_WakesEveryOtherOne()
    {
        using var timeout = TestTimeout.Start();
        var budget = new InboundBudget(maxMessages: 1, maxBytes: 1_000_000);
        var holder = budget.Open();
        holder.Add(10);
        using var cancelled = new CancellationTokenSource();
        var first = budget.Open().WaitForRoomAsync(timeout.Token).AsTask();
        var gone = budget.Open().WaitForRoomAsync(cancelled.Token).AsTask();
        var third = budget.Open().WaitForRoomAsync(timeout.Token).AsTask();

        await cancelled.CancelAsync();
        await gone.Awaiting(t => t).Should().ThrowAsync<OperationCanceledException>();
        holder.Release(1, 10);

        // Every waiter, not as many as there is room for: one woken onto an idle stream reads nothing, and those left
        // behind would wait for a release that never comes.
        await Task.WhenAll(first, third).WaitAsync(timeout.Token);
        budget.Messages.Should().Be(0);
        budget.Bytes.Should().Be(0);
    }

    [Fact]
    public async Task Release_StillNoRoom_WakesNobody()
    {
        using var timeout = TestTimeout.Start();
        var budget = new InboundBudget(maxMessages: 2, maxBytes: 1_000_000);
        var holder = budget.Open();
        holder.Add(10);
        holder.Add(10);
        holder.Add(10); // one stream's message past the bound
        var wait = budget.Open().WaitForRoomAsync(timeout.Token).AsTask();

        holder.Release(1, 10);

        budget.Waiting.Should().Be(1, "2 of 2 are still held");
        holder.Release(1, 10);
        budget.Waiting.Should().Be(0);
        await wait.WaitAsync(timeout.Token);
    }

    [Fact]
    public async Task Close_StreamEnded_GivesBackWhatItHeldOnce()
    {
        using var timeout = TestTimeout.Start();
        var budget = new InboundBudget(maxMessages: 3, maxBytes: 1_000_000);
        var (ended, other) = (budget.Open(), budget.Open());
        other.Add(5);
        ended.Add(10);
        ended.Add(10);
        var wait = budget.Open().WaitForRoomAsync(timeout.Token).AsTask();

        ended.Close();
        ended.Close();
        ended.Release(2, 20); // nothing is left to give back: it must not take the other stream's share

        await wait.WaitAsync(timeout.Token);
        budget.Messages.Should().Be(1);
        budget.Bytes.Should().Be(5);
    }

    [Theory]
    [InlineData(0, 64L * 1024 * 1024, "AgentLink:InboundBudgetMessages is 0; give a number between 1 and 1000000")]
    [InlineData(8192, 1024, "AgentLink:InboundBudgetBytes is 1024; give a number of bytes between 1048576 (1 MiB)")]
    public void Validate_BudgetOutOfRange_SaysWhatToGive(int messages, long bytes, string expected)
    {
        var result = new AgentLinkOptionsValidator().Validate(null, new AgentLinkOptions { InboundBudgetMessages = messages, InboundBudgetBytes = bytes });

        result.Failed.Should().BeTrue();
        result.FailureMessage.Should().Contain(expected);
    }

    [Fact]
    public void Defaults_LetTheNextGroupGatherWhileOneCommits()
    {
        var options = new AgentLinkOptions();

        new AgentLinkOptionsValidator().Validate(null, options).Succeeded.Should().BeTrue();
        options.InboundBudgetMessages.Should().BeGreaterThanOrEqualTo(2 * InboundProcessor.MaxGroupMessages);
        options.InboundBudgetMessages.Should().BeLessThan(10 * options.ReceiveWindow, "ten agents' windows no longer all wait in memory");
    }

    [Fact]
    public async Task Hooks_MoreThanTheBudgetWhileNothingCommits_ReadersStopAtTheBoundAndEveryHookIsStoredOnceAfter()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<InboundBudgetTests>();
        await using var broker = await TestBroker.StartAsync(database, new Dictionary<string, string?> { ["AgentLink:InboundBudgetMessages"] = "4" }, cancellationToken: timeout.Token);
        var budget = broker.Services.GetRequiredService<InboundBudget>();
        await using var first = await ConnectAsync(database, broker, timeout.Token);
        await using var second = await ConnectAsync(database, broker, timeout.Token);
        await using var holder = await EventOrderLockHolder.TakeAsync(database, timeout.Token);

        var sent = new List<(SimulatedAgent Agent, ulong Seq)>();
        for (var i = 0; i < 10; i++)
        {
            foreach (var agent in new[] { first, second })
            {
                sent.Add((agent, await agent.SendAsync(Hook(Evidence(Guid.NewGuid()), "Notification"), timeout.Token)));
            }
        }

        SpinWait.SpinUntil(() => budget.Waiting == 2, ProbeLimit).Should().BeTrue("both readers stop once the budget is spent");
        budget.Messages.Should().BeInRange(4, 4 + 2, "each stream may pass the bound by the one message it read");
        await holder.DisposeAsync();
        foreach (var (agent, seq) in sent.Where(s => s.Seq == sent.Where(o => o.Agent == s.Agent).Max(o => o.Seq)))
        {
            await agent.WaitForAckAsync(seq, timeout.Token);
        }

        foreach (var agent in new[] { first, second })
        {
            var hooks = (await AgentLinkHarness.EventsOfAsync(database, agent.MachineId, timeout.Token)).Where(e => e.Kind == EventKind.Hook).ToList();
            hooks.Select(e => e.AgentSeq).Should().BeEquivalentTo(sent.Where(s => s.Agent == agent).Select(s => (long)s.Seq), "every hook once");
        }

        budget.Messages.Should().Be(0, "every committed batch gave its messages back before its Ack went out");
        budget.Bytes.Should().Be(0);
    }

    [Fact]
    public async Task Hooks_OneLargerThanTheBrokerTakesRefused_EveryByteGivenBackWithTheAck()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<InboundBudgetTests>();
        await using var broker = await TestBroker.StartAsync(database, new Dictionary<string, string?> { ["AgentLink:MaxMessageBytes"] = "4096" }, cancellationToken: timeout.Token);
        var budget = broker.Services.GetRequiredService<InboundBudget>();
        await using var agent = await ConnectAsync(database, broker, timeout.Token);
        var oversized = Hook(Evidence(Guid.NewGuid()), "PostToolUse");
        oversized.HookEvent.RawJson = "{\"x\":\"" + new string('a', 8000) + "\"}";

        await agent.SendAsync(oversized, timeout.Token);
        var last = await agent.SendAsync(Hook(Evidence(Guid.NewGuid()), "Stop"), timeout.Token);
        await agent.WaitForAckAsync(last, timeout.Token);

        agent.Received().Should().Contain(m => m.Notice != null && m.Notice.Code == Protocol.V1.ErrorCode.ResourceExhausted, "the large one was refused alone");
        budget.Messages.Should().Be(0);
        budget.Bytes.Should().Be(0, "a refused message held its bytes until its batch committed, and gives them all back");
    }

    [Fact]
    public async Task Stream_EndsWhileItsBatchWaits_GivesItsShareBack()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<InboundBudgetTests>();
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        var budget = broker.Services.GetRequiredService<InboundBudget>();
        await using var agent = await ConnectAsync(database, broker, timeout.Token);
        await using var holder = await EventOrderLockHolder.TakeAsync(database, timeout.Token);
        for (var i = 0; i < 3; i++)
        {
            await agent.SendAsync(Hook(Evidence(Guid.NewGuid()), "Notification"), timeout.Token);
        }

        SpinWait.SpinUntil(() => budget.Messages == 3, ProbeLimit).Should().BeTrue("the three hooks are read and wait for the lock");
        await agent.AbortAsync();

        SpinWait.SpinUntil(() => budget.Messages == 0, ProbeLimit).Should().BeTrue(
            "a batch of an ended stream is never acked, and what it held would otherwise be lost to every other stream");
        budget.Bytes.Should().Be(0);
    }

    [Fact]
    public async Task Liveness_ReaderWaitsForTheBudgetLongerThanThePeerTimeout_StreamStaysUp()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<InboundBudgetTests>();
        var time = new ManualTimeProvider(DateTimeOffset.UtcNow);
        var settings = new Dictionary<string, string?>
        {
            ["AgentLink:HeartbeatInterval"] = "00:00:10",
            ["AgentLink:PeerTimeout"] = "00:00:30",
            ["AgentLink:InboundBudgetMessages"] = "1",
        };
        await using var broker = await TestBroker.StartAsync(database, settings, b => b.Services.AddSingleton<TimeProvider>(time), timeout.Token);
        var budget = broker.Services.GetRequiredService<InboundBudget>();
        await using var agent = await ConnectAsync(database, broker, timeout.Token);
        await time.WaitForTimerAsync(p => p == TimeSpan.FromSeconds(2.5), timeout.Token);
        await using var holder = await EventOrderLockHolder.TakeAsync(database, timeout.Token);
        await agent.SendAsync(Hook(Evidence(Guid.NewGuid()), "Notification"), timeout.Token);
        var last = await agent.SendAsync(Hook(Evidence(Guid.NewGuid()), "Notification"), timeout.Token);
        SpinWait.SpinUntil(() => budget.Waiting == 1, ProbeLimit).Should().BeTrue("the reader read one hook and waits for room");

        // The liveness check that ends a stream silent for 30 s runs before the heartbeat of a broker quiet for 10 s, so a
        // heartbeat sent 30 s or more after the hooks were read proves that check ran then and let the stream be. The
        // sweeper's chore runs on the thread pool while the clock moves and may see it part way, so its last heartbeat
        // before 30 s can come as late as 30 s: 11 s more make one due in any case.
        var started = time.GetUtcNow();
        time.Advance(TimeSpan.FromSeconds(31));
        time.Advance(TimeSpan.FromSeconds(11));
        await agent.NextAsync(m => m.Heartbeat is not null && m.Heartbeat.SentAt.ToDateTimeOffset() >= started + TimeSpan.FromSeconds(30), timeout.Token);

        agent.Ended.IsCompleted.Should().BeFalse("42 s without a read is the broker not listening, not the agent being silent");
        await holder.DisposeAsync();
        await agent.WaitForAckAsync(last, timeout.Token);
    }

    private static async Task<SimulatedAgent> ConnectAsync(TestDatabase database, TestBroker broker, CancellationToken cancellationToken)
    {
        var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: cancellationToken);
        await agent.ConnectAsync(broker, cancellationToken);
        return agent;
    }
}
