using Microsoft.Extensions.Hosting;
using Relay.Channel.Hosting;

namespace Relay.Channel.Lifetime;

/// <summary>
/// Stops the channel when Claude Code is gone. Claude Code normally closes the channel's stdin, which ends the MCP
/// session; but if Claude Code is killed, a grandchild may still hold the pipe open. The kernel then re-parents this
/// process (to init or a subreaper), so a parent pid that differs from the one at start means Claude Code has died.
/// </summary>
internal sealed class ParentWatch(
    ChannelIdentity identity,
    IParentProcess parent,
    IHostApplicationLifetime lifetime,
    IOptions<RelayChannelOptions> options,
    TimeProvider time,
    ILogger<ParentWatch> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Off the start path: the host starts hosted services one after another, and Claude Code's initialize must not
        // wait for this one.
        await Task.Yield();
        if (identity.ClaudePid <= 1)
        {
            // Started by init or with no readable parent: there is no Claude Code process to watch.
            LifetimeLog.NoParentToWatch(logger, identity.ClaudePid);
            return;
        }

        using var timer = new PeriodicTimer(options.Value.ParentPollInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var current = parent.ParentId();
                if (current != identity.ClaudePid)
                {
                    LifetimeLog.ParentGone(logger, identity.ClaudePid, current);
                    lifetime.StopApplication();
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
