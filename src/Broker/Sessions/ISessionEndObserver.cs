using Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Sessions;

/// <summary>Told, inside the batch's transaction, that a session ended, so what waits on it (prompts, approvals) can settle.</summary>
internal interface ISessionEndObserver
{
    Task SessionEndedAsync(IngestContext context, RelaySession session, CancellationToken cancellationToken);
}
