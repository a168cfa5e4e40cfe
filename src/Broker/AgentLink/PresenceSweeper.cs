using Microsoft.Extensions.Options;
using Relay.Broker.Delivery;

namespace Relay.Broker.AgentLink;

/// <summary>
/// The replica-wide chores of its idle agent streams, on three timers instead of one per stream and one statement each
/// instead of a transaction per stream: checks every stream's liveness (heartbeat due, peer silent), renews the leases
/// (presence) of every live stream every <c>LeaseDuration / 3</c>, and every heartbeat interval finds the machines with
/// queued work a missed signal left behind and wakes their delivery loops.
/// </summary>
/// <remarks>
/// Per stream these cost 1,300 timer wake-ups, 170 renewal transactions and 330 work checks a second at 5,000 idle
/// streams, most of the broker's and PostgreSQL's idle CPU (docs/benchmarks.md, capacity-idle). A stream whose agent stopped talking is
/// still renewed until its liveness loop ends it (PeerTimeout, shorter than the lease), and a stream that lost its
/// machine to a newer one is not: renewal matches the connection id, which the newer stream's handshake replaced.
/// </remarks>
internal sealed class PresenceSweeper(
    AgentConnectionRegistry registry,
    LinkStateStore linkState,
    OutboxFiller filler,
    IOptions<AgentLinkOptions> options,
    TimeProvider time,
    ILogger<PresenceSweeper> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.WhenAll(
        EveryAsync(LivenessPeriod(options.Value), CheckLivenessAsync, stoppingToken),
        EveryAsync(options.Value.LeaseDuration / 3, RenewAsync, stoppingToken),
        EveryAsync(options.Value.HeartbeatInterval, WakeMissedAsync, stoppingToken));

    /// <summary>How often liveness is checked: a quarter of the shorter of the heartbeat interval and peer timeout.</summary>
    internal static TimeSpan LivenessPeriod(AgentLinkOptions options) =>
        TimeSpan.FromTicks(Math.Max(Math.Min(options.HeartbeatInterval.Ticks, options.PeerTimeout.Ticks) / 4, TimeSpan.TicksPerMillisecond * 10));

    /// <summary>Heartbeats quiet streams and ends those whose agent went silent.</summary>
    private Task CheckLivenessAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        foreach (var connection in registry.Live())
        {
            connection.CheckLiveness(now);
        }

        return Task.CompletedTask;
    }

    /// <summary>Renews the lease and last-seen time (and the latest agent statistics) of every live stream.</summary>
    internal async Task RenewAsync(CancellationToken cancellationToken)
    {
        var live = registry.Live().Select(c => new LeaseRenewal(c.Machine.Id, c.Id, c.TakeStatsToStore())).ToList();
        if (live.Count > 0)
        {
            await linkState.RenewAsync(live, cancellationToken);
        }
    }

    /// <summary>Wakes the streams whose machine has queued work (queued by another replica, or without a signal).</summary>
    internal async Task WakeMissedAsync(CancellationToken cancellationToken)
    {
        var machines = registry.Live().Select(c => c.Machine.Id).ToList();
        if (machines.Count == 0)
        {
            return;
        }

        foreach (var machine in await filler.MachinesWithWorkAsync(machines, cancellationToken))
        {
            registry.Find(machine)?.RefillSoon();
        }
    }

    private async Task EveryAsync(TimeSpan period, Func<CancellationToken, Task> chore, CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(period, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await chore(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    // The next tick tries again; a lease outlives two missed renewals.
                    AgentLinkLog.SweepFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }
}

/// <summary>One stream's lease to renew; <see cref="StatsJson"/> is its agent's latest statistics when they changed.</summary>
internal readonly record struct LeaseRenewal(Guid MachineId, Guid ConnectionId, string? StatsJson);
