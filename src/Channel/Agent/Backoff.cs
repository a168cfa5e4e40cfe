namespace Relay.Channel.Agent;

/// <summary>Exponential reconnect delays with jitter, so that channels restarted together do not retry in step.</summary>
internal sealed class Backoff(TimeSpan min, TimeSpan max)
{
    private int _failures;

    public TimeSpan Next()
    {
        var exponent = Math.Min(_failures++, 16);
        var delay = Math.Min(min.TotalMilliseconds * Math.Pow(2, exponent), max.TotalMilliseconds);
        var jittered = delay * (0.8 + (0.4 * Random.Shared.NextDouble()));
        return TimeSpan.FromMilliseconds(Math.Clamp(jittered, min.TotalMilliseconds, max.TotalMilliseconds));
    }

    public void Reset() => _failures = 0;
}
