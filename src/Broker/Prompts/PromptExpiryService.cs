using Microsoft.Extensions.Options;

namespace Relay.Broker.Prompts;

/// <summary>Runs <see cref="PromptExpiryJob"/> every <see cref="PromptOptions.ExpirySweepInterval"/> on the injected clock.</summary>
internal sealed class PromptExpiryService(
    PromptExpiryJob job,
    IOptions<PromptOptions> options,
    TimeProvider timeProvider,
    ILogger<PromptExpiryService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.ExpirySweepInterval;
        using var timer = new PeriodicTimer(interval, timeProvider);
        do
        {
            try
            {
                await job.RunOnceAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                PromptLog.ExpirySweepFailed(logger, ex, interval);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
