using Microsoft.EntityFrameworkCore;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Persistence.Ingest;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Broker.Tests.Persistence;

[Collection(PostgresCollection.Name)]
public sealed class EventIngestWriterTests(PostgresFixture postgres)
{
    private static IngestEvent Hook(Guid machineId, Guid agentEventId, long seq, string tool = "Bash") =>
        new(machineId, agentEventId, seq, EventKind.Hook, Seed.Now, $$"""{"hook_event_name":"PreToolUse","tool_name":"{{tool}}"}""")
        {
            HookEventName = "PreToolUse",
            ToolName = tool,
            ClaudeSessionId = Guid.NewGuid(),
        };

    [Fact]
    public async Task WriteAsync_RetransmittedEvents_StoresEachOnceAndReturnsOnlyNewOnes()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<EventIngestWriterTests>();
        var machine = await Seed.MachineAsync(database, timeout.Token);
        var writer = new EventIngestWriter(database.DataSource, new FixedTimeProvider(Seed.Now));
        Guid a = Guid.NewGuid(), b = Guid.NewGuid(), c = Guid.NewGuid(), d = Guid.NewGuid();

        var first = await writer.WriteAsync([Hook(machine.Id, a, 1), Hook(machine.Id, b, 2), Hook(machine.Id, c, 3)], timeout.Token);
        // After a reconnect the agent resends b and c, then sends d, which a retransmit inside the batch repeats.
        var second = await writer.WriteAsync([Hook(machine.Id, b, 2), Hook(machine.Id, c, 3), Hook(machine.Id, d, 4), Hook(machine.Id, d, 4)], timeout.Token);

        first.Select(e => (e.Index, e.AgentEventId)).Should().Equal((0, a), (1, b), (2, c));
        first.Select(e => e.EventId).Should().BeInAscendingOrder();
        second.Should().ContainSingle().Which.Should().Match<IngestedEvent>(e => e.Index == 2 && e.AgentEventId == d && e.EventId > first[2].EventId);
        await using var db = database.CreateContext();
        (await db.Events.CountAsync(e => e.MachineId == machine.Id, timeout.Token)).Should().Be(4);
    }

    [Fact]
    public async Task WriteAsync_SameAgentEventIdFromAnotherMachine_IsADifferentEvent()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<EventIngestWriterTests>();
        var one = await Seed.MachineAsync(database, timeout.Token);
        var two = await Seed.MachineAsync(database, timeout.Token);
        var writer = new EventIngestWriter(database.DataSource, TimeProvider.System);
        var shared = Guid.NewGuid();

        var stored = await writer.WriteAsync([Hook(one.Id, shared, 1), Hook(two.Id, shared, 1)], timeout.Token);

        stored.Should().HaveCount(2);
    }

    [Fact]
    public async Task WriteAsync_StoresColumnsAndJsonPayload()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<EventIngestWriterTests>();
        var machine = await Seed.MachineAsync(database, timeout.Token);
        var session = await Seed.SessionAsync(database, machine, timeout.Token);
        var writer = new EventIngestWriter(database.DataSource, new FixedTimeProvider(Seed.Now.AddSeconds(5)));
        var occurred = new DateTimeOffset(2026, 11, 1, 13, 0, 0, TimeSpan.FromHours(1));
        var sent = Hook(machine.Id, Guid.NewGuid(), 42, "Edit") with { RelaySessionId = session.Id, OccurredAt = occurred };

        var id = (await writer.WriteAsync([sent], timeout.Token)).Single().EventId;

        await using var db = database.CreateContext();
        var row = await db.Events.SingleAsync(e => e.Id == id, timeout.Token);
        row.Should().BeEquivalentTo(new
        {
            sent.MachineId, sent.AgentEventId, AgentSeq = 42L, Kind = EventKind.Hook, HookEventName = "PreToolUse",
            ToolName = "Edit", RelaySessionId = (Guid?)session.Id, sent.ClaudeSessionId,
        });
        row.OccurredAt.Should().Be(occurred);
        row.ReceivedAt.Should().Be(Seed.Now.AddSeconds(5));
        (await database.ScalarAsync<string>($"SELECT payload->>'tool_name' FROM events WHERE id = {id}", timeout.Token)).Should().Be("Edit");
    }

    [Fact]
    public async Task WriteAsync_WithInboundPositions_AdvancesCommittedSeqButNeverBack()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<EventIngestWriterTests>();
        var machine = await Seed.MachineAsync(database, timeout.Token);
        var writer = new EventIngestWriter(database.DataSource, TimeProvider.System);

        await writer.WriteAsync([Hook(machine.Id, Guid.NewGuid(), 7)], [new InboundPosition(machine.Id, 5), new InboundPosition(machine.Id, 7)], timeout.Token);
        await writer.WriteAsync([], [new InboundPosition(machine.Id, 3)], timeout.Token);

        await using var db = database.CreateContext();
        (await db.AgentLinkStates.SingleAsync(s => s.MachineId == machine.Id, timeout.Token)).LastInboundSeq.Should().Be(7);
    }

    [Fact]
    public async Task WriteAsync_PositionOfUnknownMachine_StoresNothingOfTheBatch()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<EventIngestWriterTests>();
        var machine = await Seed.MachineAsync(database, timeout.Token);
        var writer = new EventIngestWriter(database.DataSource, TimeProvider.System);
        var good = Guid.NewGuid();

        // events has no foreign keys (they cost a trigger per row); agent_link_state does, so the batch's second
        // statement fails after its first stored the event.
        var write = () => writer.WriteAsync([Hook(machine.Id, good, 1)], [new InboundPosition(Guid.NewGuid(), 1)], timeout.Token);

        (await write.Should().ThrowAsync<Npgsql.PostgresException>()).Which.SqlState.Should().Be(Npgsql.PostgresErrorCodes.ForeignKeyViolation);
        await using var db = database.CreateContext();
        (await db.Events.AnyAsync(e => e.AgentEventId == good, timeout.Token)).Should().BeFalse("the batch is one transaction");
    }
}
