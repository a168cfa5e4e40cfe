using Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Delivery;

/// <summary>
/// Whether one session may message another (AgentLink SessionMessage). The broker's policy evaluator (src/Broker/Policy)
/// plugs in here; until it does, <see cref="DefaultSessionMessagePolicy"/> applies issue 3's default.
/// </summary>
internal interface ISessionMessagePolicy
{
    /// <summary>Null when allowed; otherwise why not, in words for the sending session.</summary>
    Task<string?> CheckAsync(SessionMessageParties parties, CancellationToken cancellationToken);
}

/// <summary>Who messages whom.</summary>
internal sealed record SessionMessageParties(RelaySession Sender, string SenderMachineName, RelaySession Target, string TargetMachineName);

/// <summary>The documented default: sessions of the same team (every session this broker knows) may message each other.</summary>
internal sealed class DefaultSessionMessagePolicy : ISessionMessagePolicy
{
    public Task<string?> CheckAsync(SessionMessageParties parties, CancellationToken cancellationToken) => Task.FromResult<string?>(null);
}
