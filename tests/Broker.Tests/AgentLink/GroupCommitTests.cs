using Microsoft.Extensions.DependencyInjection;
using Relay.Broker.AgentLink;
using Relay.Broker.Watch;
using Relay.Broker.Tests.Access;
using Relay.Broker.Tests.Infrastructure;
using Relay.Broker.Tests.Prompts;
using Relay.Grpc;
using static Relay.Broker.Tests.AgentLink.AgentMessages;
using EventKind = Relay.Broker.Persistence.Entities.EventKind;

namespace Relay.Broker.Tests.AgentLink;

/// <summary>Batches of several streams stored in one transaction, each still all-or-nothing on its own.</summary>
[Collection(PostgresCollection.Name)]
public sealed class GroupCommitTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Batches_QueuedWhileATransactionRuns_CommitTogetherAndAFailingOneFailsAlone()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<GroupCommitTests>();
        var hold = new HoldFirstBatch();
        await using var broker = await StartHeldAsync(database, hold, timeout.Token);
        await using var agents = await ConnectAgentsAsync(database, broker, 4, timeout.Token);

        var (first, second, third, revoked) = (agents[0], agents[1], agents[2], agents[3]);
        hold.Arm();
        await first.SendAsync(Hook(Evidence(Guid.NewGuid()), "Stop"), timeout.Token);
        await hold.Reached.WaitAsync(timeout.Token);
        // Revoked behind the broker's back (as by another replica): only the fence inside the group can see it.
        await database.ExecuteAsync($"UPDATE machines SET revoked_at = now() WHERE id = '{revoked.MachineId}'", timeout.Token);
        var seqs = new Dictionary<SimulatedAgent, ulong>();
        foreach (var agent in new[] { second, third, revoked })
        {
            seqs[agent] = await agent.SendAsync(Hook(Evidence(Guid.NewGuid()), "Stop"), timeout.Token);
        }

        var processor = broker.Services.GetRequiredService<InboundProcessor>();
        SpinWait.SpinUntil(() => processor.PendingBatches == 3, TimeSpan.FromSeconds(30)).Should().BeTrue("the three batches queue behind the held one");
        hold.Release();
        await second.WaitForAckAsync(seqs[second], timeout.Token);
        await third.WaitForAckAsync(seqs[third], timeout.Token);
        var ended = await revoked.Ended.WaitAsync(timeout.Token);

        ended!.StatusCode.Should().Be(StatusCode.Unauthenticated);
        (await AgentLinkHarness.EventsOfAsync(database, revoked.MachineId, timeout.Token)).Should().NotContain(e => e.Kind == EventKind.Hook);
        (await AgentLinkHarness.EventsOfAsync(database, first.MachineId, timeout.Token)).Should().ContainSingle(e => e.Kind == EventKind.Hook);
        hold.TransactionOf(second.MachineId).Should().Be(hold.TransactionOf(third.MachineId), "the batches that waited together are stored by one transaction");
        hold.TransactionOf(second.MachineId).Should().NotBe(hold.TransactionOf(first.MachineId));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Group_BatchBreaksADatabaseRuleInItsLastRoundTrip_RollsBackAloneAndTheOthersCommitTogether(int failing)
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<GroupCommitTests>();
        var hold = new HoldFirstBatch();
        var logs = new CapturingLoggerProvider();
        await using var broker = await StartHeldAsync(database, hold, timeout.Token, logs);
        await using var agents = await ConnectAgentsAsync(database, broker, 4, timeout.Token);
        var queued = InMachineIdOrder(agents.Skip(1));
        var refused = queued[failing];
        var others = queued.Where(a => a != refused).ToList();
        // The refused batch's event insert fails: the statement that shares its round trip with the RELEASE and the next
        // SAVEPOINT (the middle batch) or with COMMIT (the last batch), so what is tested is the savepoint rollback and
        // then the next batch's start, or the commit of the others on its own.
        var name = $"refuse_{refused.MachineId:N}";
        await database.ExecuteAsync($"""
            CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql
                AS $$ BEGIN RAISE EXCEPTION 'refused by the test' USING ERRCODE = 'check_violation'; END $$;
            CREATE TRIGGER {name} BEFORE INSERT ON events FOR EACH ROW
                WHEN (NEW.machine_id = '{refused.MachineId}' AND NEW.kind = 'hook') EXECUTE FUNCTION {name}();
            """, timeout.Token);
        // A live watcher of every hook: the group hands its committed rows to the feed, never the refused batch's.
        var (live, _) = await broker.Services.GetRequiredService<EventFeed>().SubscribeAsync(
            new WatchFilter(null, null, new HashSet<Protocol.V1.EventKind> { Protocol.V1.EventKind.Hook }), timeout.Token);
        try
        {
            var seqs = await QueueBehindAHeldBatchAsync(broker, hold, agents[0], queued, timeout.Token);
            foreach (var agent in queued)
            {
                await agent.WaitForAckAsync(seqs[agent], timeout.Token);
            }

            var seen = new List<Protocol.V1.Event>();
            while (others.Any(o => !seen.Exists(e => e.MachineId == o.MachineId.ToString("D"))))
            {
                seen.Add((await live.Reader.ReadAsync(timeout.Token)).Event);
            }

            while (live.Reader.TryRead(out var more))
            {
                seen.Add(more.Event);
            }

            seen.Should().NotContain(e => e.MachineId == refused.MachineId.ToString("D"), "a batch rolled back to its savepoint is never delivered");

            foreach (var stored in others)
            {
                (await AgentLinkHarness.EventsOfAsync(database, stored.MachineId, timeout.Token)).Should().ContainSingle(e => e.Kind == EventKind.Hook);
            }

            hold.TransactionOf(others[0].MachineId).Should().Be(hold.TransactionOf(others[1].MachineId), "the batches around the failing one commit together");
            var refusedEvents = await AgentLinkHarness.EventsOfAsync(database, refused.MachineId, timeout.Token);
            refusedEvents.Should().NotContain(e => e.Kind == EventKind.Hook, "its batch was rolled back to its savepoint");
            refusedEvents.Should().ContainSingle(e => e.Kind == EventKind.MessageRejected && e.AgentSeq == (long)seqs[refused], "its stream stored it as refused instead");
            refused.Received().Should().Contain(m => m.Notice != null && m.Notice.Seq == seqs[refused]);
            refused.Ended.IsCompleted.Should().BeFalse("a batch the database refused ends no stream");
            var eventRoundTrips = logs.Entries.Where(e => e.Category == "Npgsql.Command" && e.Message.Contains("INSERT INTO events")).Select(e => e.Message).ToList();
            if (failing == 1)
            {
                eventRoundTrips.Should().Contain(m => m.Contains("COMMIT"), "the last batch's event rows and COMMIT are one round trip");
            }
        }
        finally
        {
            await database.ExecuteAsync($"DROP TRIGGER {name} ON events; DROP FUNCTION {name}();", CancellationToken.None);
        }
    }

    [Fact]
    public async Task Group_HookBatchesOfSeveralMachines_WritesAllInOneRoundTripWithItsCommit()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<GroupCommitTests>();
        var hold = new HoldFirstBatch();
        var logs = new CapturingLoggerProvider();
        await using var broker = await StartHeldAsync(database, hold, timeout.Token, logs);
        await using var agents = await ConnectAgentsAsync(database, broker, 4, timeout.Token);
        var queued = InMachineIdOrder(agents.Skip(1));
        var evidence = new Dictionary<SimulatedAgent, Protocol.V1.SessionEvidence>();
        var activity = new Dictionary<SimulatedAgent, DateTimeOffset?>();
        foreach (var agent in queued)
        {
            // Known sessions, as most hooks are: a new one is created (and saved) by the batch that first names it.
            evidence[agent] = Evidence(Guid.NewGuid(), pid: 42);
            await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, Hook(evidence[agent], "UserPromptSubmit"));
            activity[agent] = (await AgentLinkHarness.SessionsOfAsync(database, agent.MachineId, timeout.Token)).Single().LastActivityAt;
        }

        hold.Arm();
        await agents[0].SendAsync(Hook(Evidence(Guid.NewGuid()), "Stop"), timeout.Token);
        await hold.Reached.WaitAsync(timeout.Token);
        var before = logs.Entries.Count; // the held group took its lock before this
        var seqs = new Dictionary<SimulatedAgent, ulong>();
        foreach (var agent in queued)
        {
            // Mid-turn tool hooks: the session's activity moves, its status stays (no session_updated entry to write).
            seqs[agent] = await agent.SendAsync(Hook(evidence[agent], "PostToolUse"), timeout.Token);
        }

        var processor = broker.Services.GetRequiredService<InboundProcessor>();
        SpinWait.SpinUntil(() => processor.PendingBatches == queued.Count, TimeSpan.FromSeconds(30)).Should().BeTrue("the batches queue behind the held one");
        hold.Release();
        foreach (var agent in queued)
        {
            await agent.WaitForAckAsync(seqs[agent], timeout.Token);
        }

        var roundTrips = GroupRoundTripTests.RoundTripsOfTheGroupAfter(logs, before).Where(m => !m.Contains("txid_current()")).ToList();
        roundTrips.Should().HaveCount(2, "the lock, the fences and the lookups, then every batch's event rows and positions with COMMIT: {0}", string.Join("\n", roundTrips));
        roundTrips.Should().NotContain(m => m.Contains("SAVEPOINT"), "the group is rolled back as a whole if anything fails");
        queued.Select(a => hold.TransactionOf(a.MachineId)).Distinct().Should().ContainSingle();
        foreach (var agent in queued)
        {
            var sessions = await AgentLinkHarness.SessionsOfAsync(database, agent.MachineId, timeout.Token);
            sessions.Should().ContainSingle().Which.LastActivityAt.Should().BeAfter(activity[agent]!.Value, "the batch's session update rode in the shared round trip");
            (await AgentLinkHarness.EventsOfAsync(database, agent.MachineId, timeout.Token)).Should().ContainSingle(e => e.Kind == EventKind.Hook && e.AgentSeq == (long)seqs[agent])
                .Which.RelaySessionId.Should().Be(sessions[0].Id);
        }
    }

    [Fact]
    public async Task Group_TwoMachinesClaimOneClaudeSession_TheSecondIsRefusedAsAnotherMachines()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<GroupCommitTests>();
        var hold = new HoldFirstBatch();
        await using var broker = await StartHeldAsync(database, hold, timeout.Token);
        await using var agents = await ConnectAgentsAsync(database, broker, 3, timeout.Token);
        var queued = InMachineIdOrder(agents.Skip(1));
        var (owner, other) = (queued[0], queued[1]);
        var claudeId = Guid.NewGuid();
        // A new session is saved by the batch that names it, before the next batch of the group looks it up: the
        // second machine finds the first one's session, which is not its own, and its hook is refused (stored as
        // such and acked), in the same transaction.
        var seqs = await QueueBehindAHeldBatchAsync(broker, hold, agents[0], queued, timeout.Token, message: _ => Hook(Evidence(claudeId), "Stop"));
        var (ownerSeq, otherSeq) = (seqs[owner], seqs[other]);
        await owner.WaitForAckAsync(ownerSeq, timeout.Token);
        await other.WaitForAckAsync(otherSeq, timeout.Token);

        (await AgentLinkHarness.EventsOfAsync(database, owner.MachineId, timeout.Token)).Should().ContainSingle(e => e.Kind == EventKind.Hook);
        (await AgentLinkHarness.SessionsOfAsync(database, owner.MachineId, timeout.Token)).Should().ContainSingle();
        (await AgentLinkHarness.SessionsOfAsync(database, other.MachineId, timeout.Token)).Should().BeEmpty();
        var otherEvents = await AgentLinkHarness.EventsOfAsync(database, other.MachineId, timeout.Token);
        otherEvents.Should().NotContain(e => e.Kind == EventKind.Hook);
        otherEvents.Should().ContainSingle(e => e.Kind == EventKind.MessageRejected && e.AgentSeq == (long)otherSeq);
        other.Received().Should().Contain(m => m.Notice != null && m.Notice.Seq == otherSeq && m.Notice.Code == Protocol.V1.ErrorCode.PermissionDenied);
        hold.TransactionOf(owner.MachineId).Should().Be(hold.TransactionOf(other.MachineId), "one group stored both");
    }

    [Fact]
    public async Task Group_FirstBatchsFenceFails_ThatStreamEndsAndTheRestAreStoredTogether()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<GroupCommitTests>();
        var hold = new HoldFirstBatch();
        await using var broker = await StartHeldAsync(database, hold, timeout.Token);
        await using var agents = await ConnectAgentsAsync(database, broker, 4, timeout.Token);
        var queued = InMachineIdOrder(agents.Skip(1));
        var replaced = queued[0];
        // Another stream (as on another replica) took the machine behind this broker's back: only the fences read at
        // the start of the group can see it, and the savepoint taken with them serves the next batch.
        var seqs = await QueueBehindAHeldBatchAsync(broker, hold, agents[0], queued, timeout.Token,
            () => database.ExecuteAsync($"UPDATE agent_link_state SET connection_id = gen_random_uuid() WHERE machine_id = '{replaced.MachineId}'", timeout.Token));
        await queued[1].WaitForAckAsync(seqs[queued[1]], timeout.Token);
        await queued[2].WaitForAckAsync(seqs[queued[2]], timeout.Token);
        var ended = await replaced.Ended.WaitAsync(timeout.Token);

        ended!.StatusCode.Should().Be(StatusCode.Aborted);
        replaced.BrokerAck.Should().BeLessThan(seqs[replaced]);
        (await AgentLinkHarness.EventsOfAsync(database, replaced.MachineId, timeout.Token)).Should().NotContain(e => e.Kind == EventKind.Hook);
        foreach (var stored in queued.Skip(1))
        {
            (await AgentLinkHarness.EventsOfAsync(database, stored.MachineId, timeout.Token)).Should().ContainSingle(e => e.Kind == EventKind.Hook);
        }

        hold.TransactionOf(queued[1].MachineId).Should().Be(hold.TransactionOf(queued[2].MachineId));
    }

    [Fact]
    public async Task Group_HooksOfKnownSessions_MoveTheSessionsItReadAtItsStart()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<GroupCommitTests>();
        var hold = new HoldFirstBatch();
        await using var broker = await StartHeldAsync(database, hold, timeout.Token);
        await using var agents = await ConnectAgentsAsync(database, broker, 3, timeout.Token);
        var queued = agents.Skip(1).ToList();
        var evidence = new Dictionary<SimulatedAgent, Protocol.V1.SessionEvidence>();
        foreach (var agent in queued)
        {
            // The stream learns its session's id: the group's hooks find it through the stream's cache.
            evidence[agent] = Evidence(Guid.NewGuid(), pid: 42);
            await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, Hook(evidence[agent], "Stop"));
        }

        hold.Arm();
        await agents[0].SendAsync(Hook(Evidence(Guid.NewGuid()), "Stop"), timeout.Token);
        await hold.Reached.WaitAsync(timeout.Token);
        var seqs = new Dictionary<SimulatedAgent, ulong>();
        foreach (var agent in queued)
        {
            seqs[agent] = await agent.SendAsync(Hook(evidence[agent], "UserPromptSubmit"), timeout.Token);
        }

        var processor = broker.Services.GetRequiredService<InboundProcessor>();
        SpinWait.SpinUntil(() => processor.PendingBatches == 2, TimeSpan.FromSeconds(30)).Should().BeTrue("both batches queue behind the held one");
        hold.Release();
        foreach (var agent in queued)
        {
            await agent.WaitForAckAsync(seqs[agent], timeout.Token);
        }

        hold.TransactionOf(queued[0].MachineId).Should().Be(hold.TransactionOf(queued[1].MachineId));
        foreach (var agent in queued)
        {
            var sessions = await AgentLinkHarness.SessionsOfAsync(database, agent.MachineId, timeout.Token);
            sessions.Should().ContainSingle().Which.Status.Should().Be(Relay.Broker.Persistence.Entities.SessionStatus.Working);
            (await AgentLinkHarness.EventsOfAsync(database, agent.MachineId, timeout.Token)).Where(e => e.Kind == EventKind.Hook)
                .Should().HaveCount(2).And.OnlyContain(e => e.RelaySessionId == sessions[0].Id);
        }
    }

    [Fact]
    public async Task CompareAsPostgres_ManyUuids_SameOrderAsPostgreSql()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<GroupCommitTests>();
        var ids = Enumerable.Range(0, 200).Select(_ => Guid.NewGuid()).ToList();
        var list = string.Join(",", ids.Select(id => $"'{id}'::uuid"));
        var sortedByPostgres = new List<Guid>();
        await using (var command = database.DataSource.CreateCommand($"SELECT u FROM unnest(ARRAY[{list}]) AS u ORDER BY u"))
        await using (var reader = await command.ExecuteReaderAsync(timeout.Token))
        {
            while (await reader.ReadAsync(timeout.Token))
            {
                sortedByPostgres.Add(reader.GetGuid(0));
            }
        }

        ids.Sort(InboundProcessor.CompareAsPostgres);

        ids.Should().Equal(sortedByPostgres, "the group commit must lock agent_link_state rows in the order the sweeper does");
    }

    /// <summary>A broker whose inbound batches <paramref name="hold"/> can hold, its SQL captured in <paramref name="logs"/> when given.</summary>
    private static Task<TestBroker> StartHeldAsync(TestDatabase database, HoldFirstBatch hold, CancellationToken cancellationToken, CapturingLoggerProvider? logs = null) =>
        TestBroker.StartAsync(database, configure: b =>
        {
            b.Services.AddSingleton<IInboundBatchObserver>(hold);
            if (logs is not null)
            {
                SendPromptLockTests.CaptureNpgsql(b, logs);
            }
        }, cancellationToken: cancellationToken);

    private static async Task<ConnectedAgents> ConnectAgentsAsync(TestDatabase database, TestBroker broker, int count, CancellationToken cancellationToken)
    {
        var agents = new ConnectedAgents();
        for (var i = 0; i < count; i++)
        {
            var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: cancellationToken);
            agents.Add(agent);
            await agent.ConnectAsync(broker, cancellationToken);
        }

        return agents;
    }

    /// <summary>Agents of one test, disconnected when it ends (before its broker stops).</summary>
    private sealed class ConnectedAgents : List<SimulatedAgent>, IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            foreach (var agent in this)
            {
                await agent.DisposeAsync();
            }
        }
    }

    /// <summary>The order in which a group stores the agents' batches.</summary>
    private static List<SimulatedAgent> InMachineIdOrder(IEnumerable<SimulatedAgent> agents) =>
        agents.OrderBy(a => a.MachineId, Comparer<Guid>.Create(InboundProcessor.CompareAsPostgres)).ToList();

    /// <summary>
    /// Holds <paramref name="holder"/>'s batch in its transaction, runs <paramref name="meanwhile"/>, has each of
    /// <paramref name="queued"/> send a hook, waits until their batches queue, and lets the held one commit: the queued
    /// batches are then stored by one group. Returns the seq each queued agent sent.
    /// </summary>
    private static async Task<Dictionary<SimulatedAgent, ulong>> QueueBehindAHeldBatchAsync(
        TestBroker broker, HoldFirstBatch hold, SimulatedAgent holder, List<SimulatedAgent> queued, CancellationToken cancellationToken, Func<Task>? meanwhile = null,
        Func<SimulatedAgent, Protocol.V1.AgentMessage>? message = null)
    {
        hold.Arm();
        await holder.SendAsync(Hook(Evidence(Guid.NewGuid()), "Stop"), cancellationToken);
        await hold.Reached.WaitAsync(cancellationToken);
        if (meanwhile is not null)
        {
            await meanwhile();
        }

        var seqs = new Dictionary<SimulatedAgent, ulong>();
        foreach (var agent in queued)
        {
            seqs[agent] = await agent.SendAsync(message?.Invoke(agent) ?? Hook(Evidence(Guid.NewGuid()), "Stop"), cancellationToken);
        }

        var processor = broker.Services.GetRequiredService<InboundProcessor>();
        SpinWait.SpinUntil(() => processor.PendingBatches == queued.Count, TimeSpan.FromSeconds(30)).Should().BeTrue("the batches queue behind the held one");
        hold.Release();
        return seqs;
    }

    /// <summary>Holds the first batch after <see cref="Arm"/> just before its commit, until <see cref="Release"/>.</summary>
    private sealed class HoldFirstBatch : IInboundBatchObserver
    {
        private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, long> _transactions = new();
        private int _armed;

        /// <summary>The top-level transaction (txid_current, the same inside a savepoint) that stored the machine's batch.</summary>
        public long TransactionOf(Guid machineId) => _transactions[machineId];

        public Task Reached => _reached.Task;

        public void Arm() => Volatile.Write(ref _armed, 1);

        public void Release() => _release.TrySetResult();

        public async ValueTask BeforeCommitAsync(Guid machineId, long highestSeq, Npgsql.NpgsqlTransaction transaction, CancellationToken cancellationToken)
        {
            await using (var command = new Npgsql.NpgsqlCommand("SELECT txid_current()", transaction.Connection, transaction))
            {
                _transactions[machineId] = (long)(await command.ExecuteScalarAsync(cancellationToken))!;
            }

            if (Interlocked.Exchange(ref _armed, 0) == 1)
            {
                _reached.TrySetResult();
                await _release.Task.WaitAsync(cancellationToken);
            }
        }
    }
}
