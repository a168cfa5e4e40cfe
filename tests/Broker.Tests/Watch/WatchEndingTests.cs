using Microsoft.Extensions.Logging;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Signals;
using Relay.Broker.Tests.Access;
using Relay.Broker.Tests.Infrastructure;
using Relay.Broker.Tests.Queries;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.Tests.Watch;

/// <summary>
/// How a watch ends while a response write waits on a watcher that is not reading (HTTP/2 flow control): the write is
/// never cancelled, because Kestrel would reset the stream with INTERNAL_ERROR and the watcher would not learn why.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class WatchEndingTests(PostgresFixture postgres)
{
    // Each event carries 16 KB; a watcher that reads nothing blocks the broker's writes after about ten of them (its
    // 64 KiB stream window plus the server's response buffer), far fewer than the buffer holds.
    private const int Capacity = 64;
    private const int EventBytes = 16_000;

    [Fact]
    public async Task Watch_OverflowWhileAWriteWaitsAndTheWatcherReadsOn_ResourceExhaustedWithItsCursorThenResumesWithoutGap()
    {
        using var timeout = TestTimeout.Start();
        var logs = new CapturingLoggerProvider();
        await using var env = await StartAsync(logs, grace: "00:10:00", timeout.Token);

        var (failure, _, all, expected) = await OverflowStuckWatchAsync(env, logs, waitFor: "to take it and read why", timeout.Token);

        failure.StatusCode.Should().Be(StatusCode.ResourceExhausted, failure.Status.Detail);
        failure.Status.Detail.Should().Contain("after_cursor");
        all.Should().Equal(expected);
        logs.Messages.Should().NotContain(m => m.Contains("stream is reset"));
    }

    [Fact]
    public async Task Watch_OverflowWhileAWriteWaitsOnAWatcherThatNeverReads_StreamResetAsResourceExhaustedThenResumesWithoutGap()
    {
        using var timeout = TestTimeout.Start();
        var logs = new CapturingLoggerProvider();
        await using var env = await StartAsync(logs, grace: "00:00:00", timeout.Token);

        var (failure, received, all, expected) = await OverflowStuckWatchAsync(env, logs, waitFor: "stream is reset", timeout.Token);

        // ENHANCE_YOUR_CALM, which gRPC clients (relayctl watch among them) take as RESOURCE_EXHAUSTED and resume.
        failure.StatusCode.Should().Be(StatusCode.ResourceExhausted, failure.Status.Detail);
        received.Count.Should().BeLessThan(expected.Count);
        all.Should().Equal(expected);
    }

    [Fact]
    public async Task Watch_TokenRevokedWhileWaiting_EndsUnauthenticated()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await StartAsync(logs: null, grace: "00:00:10", timeout.Token);
        var (viewerId, viewer) = await AccessSeed.TokenAsync(env.Database, Role.Viewer, cancellationToken: timeout.Token);
        var (_, admin) = await AccessSeed.TokenAsync(env.Database, Role.Admin, cancellationToken: timeout.Token);
        using var watch = new WatchReader(env.Broker.Admin(viewer).WatchAsync(new WatchRequest(), SteeringEnv.Call(timeout.Token)));
        await watch.NextAsync(timeout.Token);

        await env.Broker.Admin(admin).RevokeTokenAsync(new RevokeTokenRequest { TokenId = viewerId.ToString() }, SteeringEnv.Call(timeout.Token));

        var failure = await FluentActions.Awaiting(() => watch.UntilAsync(_ => false, timeout.Token)).Should().ThrowAsync<RpcException>();
        failure.Which.StatusCode.Should().Be(StatusCode.Unauthenticated, failure.Which.Status.Detail);
        failure.Which.Status.Detail.Should().Contain("revoked");
    }

    [Fact]
    public async Task Watch_TokenRevokedWhileAWriteWaitsOnAWatcherThatNeverReads_StreamResetAsCancelled()
    {
        using var timeout = TestTimeout.Start();
        var logs = new CapturingLoggerProvider();
        await using var env = await StartAsync(logs, grace: "00:00:00", timeout.Token);
        var (viewerId, viewer) = await AccessSeed.TokenAsync(env.Database, Role.Viewer, cancellationToken: timeout.Token);
        var (_, admin) = await AccessSeed.TokenAsync(env.Database, Role.Admin, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, machine, cancellationToken: timeout.Token);
        using var watch = new WatchReader(env.Broker.Admin(viewer).WatchAsync(
            new WatchRequest { Session = new SessionSelector { SessionId = session.Id.ToString() } }, SteeringEnv.Call(timeout.Token)));
        await watch.NextAsync(timeout.Token);
        // More than the watcher's window can take, fewer than its buffer holds: the broker's write waits, nothing overflows.
        await SeedAsync(env, session, Capacity, timeout.Token);
        await watch.UntilAsync(w => w.Events.Count >= 1, timeout.Token);

        await env.Broker.Admin(admin).RevokeTokenAsync(new RevokeTokenRequest { TokenId = viewerId.ToString() }, SteeringEnv.Call(timeout.Token));
        await logs.WaitForAsync(m => m.Contains("stream is reset"), timeout.Token);

        var failure = await FluentActions.Awaiting(() => watch.UntilAsync(_ => false, timeout.Token)).Should().ThrowAsync<RpcException>();
        failure.Which.StatusCode.Should().Be(StatusCode.Cancelled, failure.Which.Status.Detail);
    }

    /// <summary>
    /// A watch of a new session whose watcher has read one of <see cref="Capacity"/> large events and then stops
    /// reading: the broker's write is stuck on flow control and the rest wait in the buffer, which is full but has not
    /// overflowed. As many again overflow it; once <paramref name="waitFor"/> is logged the watcher reads on until its
    /// watch fails, and resumes from its last cursor.
    /// </summary>
    private static async Task<(RpcException Failure, List<string> Received, List<string> All, List<string> Expected)> OverflowStuckWatchAsync(
        SteeringEnv env, CapturingLoggerProvider logs, string waitFor, CancellationToken cancellationToken)
    {
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: cancellationToken);
        var session = await SteeringSeed.SessionAsync(env.Database, machine, cancellationToken: cancellationToken);
        var selector = new SessionSelector { SessionId = session.Id.ToString() };
        using var watch = new WatchReader(env.Viewer.WatchAsync(new WatchRequest { Session = selector }, SteeringEnv.Call(cancellationToken)));
        await watch.NextAsync(cancellationToken);
        var expected = await SeedAsync(env, session, Capacity, cancellationToken);
        // One event read proves the broker is writing them; it can write only a few more before the window is full.
        await watch.UntilAsync(w => w.Events.Count >= 1, cancellationToken);

        expected.AddRange(await SeedAsync(env, session, Capacity, cancellationToken));
        await logs.WaitForAsync(m => m.Contains(waitFor), cancellationToken);
        var failure = await FluentActions.Awaiting(() => watch.UntilAsync(_ => false, cancellationToken)).Should().ThrowAsync<RpcException>();
        var received = watch.Events.Select(e => e.Cursor).ToList();
        using var resumed = new WatchReader(env.Viewer.WatchAsync(new WatchRequest { Session = selector, AfterCursor = watch.LastCursor }, SteeringEnv.Call(cancellationToken)));
        await resumed.UntilAsync(w => received.Count + w.Events.Count >= expected.Count, cancellationToken);
        return (failure.Which, received, [.. received, .. resumed.Events.Select(e => e.Cursor)], expected);
    }

    private static async Task<List<string>> SeedAsync(SteeringEnv env, RelaySession session, int count, CancellationToken cancellationToken)
    {
        var positions = await SteeringSeed.HooksAsync(env.Database, session, count, rawJsonBytes: EventBytes, cancellationToken: cancellationToken);
        env.Signals.Publish(BrokerSignals.Events);
        return positions.Select(p => "ev" + p).ToList();
    }

    private Task<SteeringEnv> StartAsync(CapturingLoggerProvider? logs, string grace, CancellationToken cancellationToken) =>
        SteeringEnv.StartAsync<WatchEndingTests>(
            postgres,
            new Dictionary<string, string?>
            {
                ["Watch:BufferCapacity"] = Capacity.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Watch:BatchSize"] = "1000",
                ["Watch:StalledWriteGrace"] = grace,
            },
            builder =>
            {
                if (logs is not null)
                {
                    builder.Logging.AddProvider(logs).AddFilter<CapturingLoggerProvider>(category: null, level: LogLevel.Trace);
                }
            },
            cancellationToken);
}
