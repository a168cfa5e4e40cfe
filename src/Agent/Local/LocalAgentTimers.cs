using Microsoft.Extensions.Options;
using Relay.Agent.Link;
using Relay.Agent.Prompts;
using Relay.Agent.Sessions;

namespace Relay.Agent.Local;

/// <summary>
/// The local side's clock: at start it loads the prompt queue and reports launches an earlier process left unfinished;
/// then, every <see cref="LocalAgentOptions.TickInterval"/> (on the injected <see cref="TimeProvider"/>), it drops
/// gone Claude processes (spooling a snapshot), expires prompts and retries channel delivery. It also tells the
/// channels when the broker link goes up or down.
/// </summary>
internal sealed partial class LocalAgentTimers(
    SessionLiveness liveness,
    PromptQueue prompts,
    LaunchCoordinator launches,
    AttachmentNotifier attachments,
    IBrokerLink link,
    TimeProvider time,
    IOptions<LocalAgentOptions> options,
    ILogger<LocalAgentTimers> logger) : BackgroundService
{
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        prompts.EnsureLoaded();
        await launches.RecoverAsync(cancellationToken);
        link.ConnectionChanged += OnConnectionChanged;
        await base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        link.ConnectionChanged -= OnConnectionChanged;
        await base.StopAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.TickInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await liveness.CheckAsync(always: false, stoppingToken);
                    await prompts.TickAsync(stoppingToken);
                    prompts.Dispatch();
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Log.TickFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private void OnConnectionChanged(bool connected) => attachments.NotifyAll();

    private static partial class Log
    {
        [LoggerMessage(EventId = 4700, Level = LogLevel.Warning, Message = "The local agent's periodic check failed; it runs again at the next tick.")]
        public static partial void TickFailed(ILogger logger, Exception exception);
    }
}
