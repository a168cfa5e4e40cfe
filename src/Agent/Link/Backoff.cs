namespace Relay.Agent.Link;

/// <summary>
/// Exponential backoff with full jitter: the n-th delay is uniform in [0, min(max, initial·2ⁿ)], so a fleet of agents
/// that lost the broker together does not come back together.
/// </summary>
internal sealed class Backoff(TimeSpan initial, TimeSpan max, Random random)
{
    private int _attempt;

    public TimeSpan Next()
    {
        var ceiling = Math.Min(max.Ticks, initial.Ticks * Math.Pow(2, Math.Min(_attempt, 62)));
        _attempt++;
        return TimeSpan.FromTicks((long)(random.NextDouble() * ceiling));
    }

    public void Reset() => _attempt = 0;
}
