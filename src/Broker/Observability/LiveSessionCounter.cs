using Microsoft.EntityFrameworkCore;
using Relay.Broker.Persistence;

namespace Relay.Broker.Observability;

/// <summary>
/// Refreshes the live-session gauge. A gauge callback must not query the database (it runs on the exporter's
/// thread, on every collection), so the count is read here on its own schedule and the gauge reports the last one.
/// </summary>
internal sealed partial class LiveSessionCounter(
    IDbContextFactory<RelayDbContext> databases,
    BrokerTelemetry telemetry,
    TimeProvider time,
    ILogger<LiveSessionCounter> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(15);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        do
        {
            try
            {
                await using var db = await databases.CreateDbContextAsync(stoppingToken);
                telemetry.SetLiveSessions(await db.Sessions.LongCountAsync(s => s.EndedAt == null, stoppingToken));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                CountFailed(logger, ex);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not count the live sessions for the metrics; the gauge keeps its last value.")]
    private static partial void CountFailed(ILogger logger, Exception exception);
}
