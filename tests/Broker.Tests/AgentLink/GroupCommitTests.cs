using Microsoft.Extensions.DependencyInjection;
using Relay.Broker.AgentLink;
using Relay.Broker.Tests.Infrastructure;
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
        await using var broker = await TestBroker.StartAsync(database, configure: b => b.Services.AddSingleton<IInboundBatchObserver>(hold), cancellationToken: timeout.Token);
        var agents = new List<SimulatedAgent>();
        for (var i = 0; i < 4; i++)
        {
            var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
            agents.Add(agent);
            await agent.ConnectAsync(broker, timeout.Token);
        }

        var (first, second, third, revoked) = (agents[0], agents[1], agents[2], agents[3]);
        try
        {
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
        finally
        {
            foreach (var agent in agents)
            {
                await agent.DisposeAsync();
            }
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
