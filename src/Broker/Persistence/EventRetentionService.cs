using Microsoft.Extensions.Options;
using Npgsql;

namespace Relay.Broker.Persistence;

/// <summary>Runs <see cref="EventRetentionJob"/> every <see cref="DatabaseOptions.RetentionInterval"/> when retention is on.</summary>
internal sealed class EventRetentionService(
    EventRetentionJob job,
    IOptions<DatabaseOptions> options,
    TimeProvider timeProvider,
    ILogger<EventRetentionService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.EventRetention is null)
        {
            return;
        }

        var interval = options.Value.RetentionInterval;
        using var timer = new PeriodicTimer(interval, timeProvider);
        do
        {
            try
            {
                await job.RunOnceAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                PersistenceLog.RetentionFailed(logger, ex, interval);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
