using Relay.Broker.Signals;

namespace Relay.Broker.Queries;

/// <summary>
/// Waits until something stored in the database satisfies a condition, woken by a <see cref="BrokerSignals"/> topic.
/// The topic's version is read before each look, so a change between the look and the wait is never missed; a poll
/// covers changes made by other broker replicas; the timeout runs on the injected clock.
/// </summary>
internal static class SignalWait
{
    /// <returns>The last value looked at, and whether the wait ran out before it satisfied <paramref name="done"/>.</returns>
    public static async Task<(T Value, bool TimedOut)> UntilAsync<T>(
        BrokerSignals signals,
        string topic,
        Func<CancellationToken, Task<T>> look,
        Func<T, bool> done,
        TimeSpan timeout,
        TimeSpan poll,
        TimeProvider timeProvider,
        CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(timeout, timeProvider);
        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        while (true)
        {
            var version = signals.Version(topic);
            var value = await look(cancellationToken);
            if (done(value))
            {
                return (value, false);
            }

            if (deadline.IsCancellationRequested)
            {
                return (value, true);
            }

            using var turn = CancellationTokenSource.CreateLinkedTokenSource(waiting.Token);
            await Task.WhenAny(signals.WaitAsync(topic, version, turn.Token), Task.Delay(poll, timeProvider, turn.Token));
            await turn.CancelAsync();
            cancellationToken.ThrowIfCancellationRequested();
        }
    }
}
