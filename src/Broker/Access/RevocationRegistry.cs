using System.Collections.Concurrent;

namespace Relay.Broker.Access;

/// <summary>
/// One cancellation token per token id or machine id, cancelled when that credential is revoked through this replica.
/// Callers carry it (<see cref="Caller.Revoked"/>) so a long-lived stream opened with a credential ends as soon as
/// the credential is revoked, not when the stream next happens to check.
/// </summary>
internal sealed class RevocationRegistry
{
    // Sources are never disposed: they own no timer, and a disposed source would break late Register calls on
    // tokens that streams still hold. One entry per credential that has been used, which is a small number.
    private readonly ConcurrentDictionary<Guid, CancellationTokenSource> _sources = new();

    /// <summary>The token that fires when <paramref name="id"/> is revoked.</summary>
    public CancellationToken TokenFor(Guid id) => _sources.GetOrAdd(id, static _ => new CancellationTokenSource()).Token;

    /// <summary>Fires <paramref name="id"/>'s token; later lookups get a fresh one (a revoked id cannot authenticate again anyway).</summary>
    public void Revoke(Guid id)
    {
        if (_sources.TryRemove(id, out var source))
        {
            source.Cancel();
        }
    }
}
