namespace Relay.Broker.AgentLink;

/// <summary>
/// At start-up, forgets the streams this replica held before it last stopped (a crash leaves them claimed): their
/// machines are offline until their agents reconnect, which they do with backoff.
/// </summary>
internal sealed class PresenceStartupService(LinkStateStore linkState) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => linkState.ReleaseAllOfReplicaAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
