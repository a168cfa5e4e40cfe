using System.Collections.Concurrent;
using Relay.Broker.Persistence.Ingest;
using Relay.Broker.Signals;
using Relay.Broker.Tests.Infrastructure;
using Relay.Broker.Tests.Queries;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.Tests.Watch;

[Collection(PostgresCollection.Name)]
public sealed class WatchTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Watch_FromHistoryHeadWhileTwoWritersInsert_NoGapNoDuplicate()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<WatchTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, machine, cancellationToken: timeout.Token);
        var noise = await SteeringSeed.SessionAsync(env.Database, machine, cancellationToken: timeout.Token);
        var inserted = new ConcurrentBag<long>(await SteeringSeed.HooksAsync(env.Database, session, 20, cancellationToken: timeout.Token));

        // Two writers at once, each batch committed under the event-order lock and announced like AgentLink does.
        var writer = new EventIngestWriter(env.Database.DataSource, TimeProvider.System);
        async Task WriteAsync(int batches)
        {
            for (var b = 0; b < batches; b++)
            {
                var events = Enumerable.Range(0, 5).Select(i => SteeringSeed.Hook(i % 3 == 0 ? noise : session, i)).ToList();
                var stored = await writer.WriteAsync(events, timeout.Token);
                foreach (var s in stored.Where(s => events[s.Index].RelaySessionId == session.Id))
                {
                    inserted.Add(s.EventId);
                }

                env.Signals.Publish(BrokerSignals.Events);
            }
        }

        var writers = Task.WhenAll(Task.Run(() => WriteAsync(30)), Task.Run(() => WriteAsync(30)));
        var history = new List<string>();
        var request = new GetSessionHistoryRequest { Session = new SessionSelector { SessionId = session.Id.ToString() }, PageSize = 7, OmitRawJson = true };
        string head;
        do
        {
            var page = await env.Viewer.GetSessionHistoryAsync(request, SteeringEnv.Call(timeout.Token));
            history.AddRange(page.Events.Select(e => e.Cursor));
            head = page.HeadCursor;
            request.PageToken = page.NextPageToken;
        }
        while (request.PageToken.Length > 0);

        using var watch = new WatchReader(env.Viewer.WatchAsync(
            new WatchRequest { Session = new SessionSelector { SessionId = session.Id.ToString() }, AfterCursor = head, OmitRawJson = true }, SteeringEnv.Call(timeout.Token)));
        await writers;
        var expected = inserted.Order().Select(p => "ev" + p).ToList();
        await watch.UntilAsync(w => history.Count + w.Events.Count >= expected.Count, timeout.Token);

        watch.Checkpoints[0].Cursor.Should().Be(head);
        history.Concat(watch.Events.Select(e => e.Cursor)).Should().Equal(expected, "history then watch is every event of the session, once, in order");
        watch.Events.Should().OnlyContain(e => e.SessionId == session.Id.ToString());
    }

    [Fact]
    public async Task Watch_LiveFromNow_CheckpointFirstThenPromptAndApprovalEvents()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<WatchTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, machine, cancellationToken: timeout.Token);
        var approval = await SteeringSeed.ApprovalAsync(env.Database, session, cancellationToken: timeout.Token);
        using var watch = new WatchReader(env.Viewer.WatchAsync(new WatchRequest { Session = new SessionSelector { SessionId = session.Id.ToString() } }, SteeringEnv.Call(timeout.Token)));
        var first = await watch.NextAsync(timeout.Token);

        var sent = await env.Operator.SendPromptAsync(
            new SendPromptRequest { PromptId = Guid.NewGuid().ToString(), Session = new SessionSelector { SessionId = session.Id.ToString() }, Text = "run the tests" },
            SteeringEnv.Call(timeout.Token));
        await env.Operator.DecideApprovalAsync(new DecideApprovalRequest { ApprovalId = approval.Id.ToString(), Decision = ApprovalDecision.Allow }, SteeringEnv.Call(timeout.Token));
        await watch.UntilAsync(w => w.Events.Count >= 2, timeout.Token);

        first.Checkpoint.CaughtUp.Should().BeTrue();
        watch.Events[0].Kind.Should().Be(EventKind.PromptCreated);
        watch.Events[0].Prompt.PromptId.Should().Be(sent.Prompt.PromptId);
        watch.Events[0].Prompt.Sender.DisplayName.Should().Be(env.OperatorName);
        watch.Events[1].Kind.Should().Be(EventKind.ApprovalResolved);
        watch.Events[1].Approval.Status.Should().Be(ApprovalStatus.Allowed);
        string.CompareOrdinal(watch.Events[0].Cursor, first.Checkpoint.Cursor).Should().NotBe(0);
    }

    [Fact]
    public async Task Watch_AllSessionsFilteredByMachineAndKind_OnlyMatchingEvents()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<WatchTests>(postgres, cancellationToken: timeout.Token);
        var (a, b) = (await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token), await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token));
        var onA = await SteeringSeed.SessionAsync(env.Database, a, cancellationToken: timeout.Token);
        var onB = await SteeringSeed.SessionAsync(env.Database, b, cancellationToken: timeout.Token);
        using var watch = new WatchReader(env.Viewer.WatchAsync(new WatchRequest { Machines = { a.Name }, Kinds = { EventKind.Hook } }, SteeringEnv.Call(timeout.Token)));
        await watch.NextAsync(timeout.Token);

        await env.Operator.SendPromptAsync(new SendPromptRequest { Session = new SessionSelector { SessionId = onA.Id.ToString() }, Text = "not a hook" }, SteeringEnv.Call(timeout.Token));
        await SteeringSeed.HooksAsync(env.Database, onB, 3, cancellationToken: timeout.Token);
        var expected = await SteeringSeed.HooksAsync(env.Database, onA, 3, cancellationToken: timeout.Token);
        env.Signals.Publish(BrokerSignals.Events);
        await watch.UntilAsync(w => w.Events.Count >= 3, timeout.Token);

        watch.Events.Select(e => e.Cursor).Should().Equal(expected.Select(p => "ev" + p));
    }

    [Fact]
    public async Task Watch_SlowWatcher_ResourceExhaustedThenResumesWithoutGap()
    {
        using var timeout = TestTimeout.Start();
        var settings = new Dictionary<string, string?> { ["Watch:BufferCapacity"] = "8", ["Watch:BatchSize"] = "1000" };
        await using var env = await SteeringEnv.StartAsync<WatchTests>(postgres, settings, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, machine, cancellationToken: timeout.Token);
        var selector = new SessionSelector { SessionId = session.Id.ToString() };
        var watch = new WatchReader(env.Viewer.WatchAsync(new WatchRequest { Session = selector }, SteeringEnv.Call(timeout.Token)));
        await watch.NextAsync(timeout.Token);

        // 200 events of 16 KB arrive at once while the watcher reads nothing: far more than its buffer plus what HTTP/2
        // flow control lets through.
        var expected = (await SteeringSeed.HooksAsync(env.Database, session, 200, rawJsonBytes: 16_000, cancellationToken: timeout.Token)).Select(p => "ev" + p).ToList();
        env.Signals.Publish(BrokerSignals.Events);
        var failure = await FluentActions.Awaiting(() => watch.UntilAsync(_ => false, timeout.Token)).Should().ThrowAsync<RpcException>();
        var received = watch.Events.Select(e => e.Cursor).ToList();
        watch.Dispose();

        using var resumed = new WatchReader(env.Viewer.WatchAsync(new WatchRequest { Session = selector, AfterCursor = watch.LastCursor }, SteeringEnv.Call(timeout.Token)));
        await resumed.UntilAsync(w => received.Count + w.Events.Count >= expected.Count, timeout.Token);

        failure.Which.StatusCode.Should().Be(StatusCode.ResourceExhausted);
        failure.Which.Status.Detail.Should().Contain("after_cursor");
        received.Count.Should().BeLessThan(expected.Count);
        received.Concat(resumed.Events.Select(e => e.Cursor)).Should().Equal(expected);
    }

    [Fact]
    public async Task Watch_CursorOlderThanRetentionOrAheadOfLog_OutOfRange()
    {
        using var timeout = TestTimeout.Start();
        var settings = new Dictionary<string, string?> { ["Database:EventRetention"] = "1.00:00:00" };
        await using var env = await SteeringEnv.StartAsync<WatchTests>(postgres, settings, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, machine, cancellationToken: timeout.Token);
        var positions = await SteeringSeed.HooksAsync(env.Database, session, 5, cancellationToken: timeout.Token);
        // What the retention job does to old rows.
        await SteeringSeed.ScalarAsync(env.Database, "WITH d AS (DELETE FROM events WHERE id <= $1 RETURNING 1) SELECT count(*) FROM d", positions[2]);

        var old = await RpcAssert.FailsAsync(
            async () => await new WatchReader(env.Viewer.WatchAsync(new WatchRequest { AfterCursor = "ev" + positions[0] }, SteeringEnv.Call(timeout.Token))).NextAsync(timeout.Token),
            StatusCode.OutOfRange);
        await RpcAssert.FailsAsync(
            async () => await new WatchReader(env.Viewer.WatchAsync(new WatchRequest { AfterCursor = "ev" + (positions[^1] + 1000) }, SteeringEnv.Call(timeout.Token))).NextAsync(timeout.Token),
            StatusCode.OutOfRange);
        using var fine = new WatchReader(env.Viewer.WatchAsync(new WatchRequest { Session = new SessionSelector { SessionId = session.Id.ToString() }, AfterCursor = "ev" + positions[2] }, SteeringEnv.Call(timeout.Token)));
        await fine.UntilAsync(w => w.Events.Count >= 2, timeout.Token);

        old.Detail.Should().Contain("retained");
        fine.Events.Select(e => e.Cursor).Should().Equal(positions[3..].Select(p => "ev" + p));
    }

    [Fact]
    public async Task Watch_UnknownMachineOrBadCursor_ClearStatus()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<WatchTests>(postgres, cancellationToken: timeout.Token);

        var machine = await RpcAssert.FailsAsync(
            async () => await new WatchReader(env.Viewer.WatchAsync(new WatchRequest { Machines = { "no-such-machine" } }, SteeringEnv.Call(timeout.Token))).NextAsync(timeout.Token),
            StatusCode.NotFound);
        var cursor = await RpcAssert.FailsAsync(
            async () => await new WatchReader(env.Viewer.WatchAsync(new WatchRequest { AfterCursor = "yesterday" }, SteeringEnv.Call(timeout.Token))).NextAsync(timeout.Token),
            StatusCode.InvalidArgument);

        machine.Detail.Should().Contain("no-such-machine");
        cursor.Detail.Should().StartWith("after_cursor");
    }
}
