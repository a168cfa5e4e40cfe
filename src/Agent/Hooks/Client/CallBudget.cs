using System.Diagnostics;

namespace Relay.Agent.Hooks.Client;

/// <summary>
/// The time a one-shot client has left, on the monotonic clock (the wall clock may jump). Not a
/// <see cref="TimeProvider"/>: what it bounds are kernel waits (poll, SO_SNDTIMEO), which a fake clock could not drive.
/// </summary>
internal readonly struct CallBudget
{
    private readonly long _started;

    private CallBudget(long started, TimeSpan total)
    {
        _started = started;
        Total = total;
    }

    /// <summary>The whole budget.</summary>
    public TimeSpan Total { get; }

    /// <summary>What is left; zero once spent.</summary>
    public TimeSpan Remaining
    {
        get
        {
            var left = Total - Stopwatch.GetElapsedTime(_started);
            return left > TimeSpan.Zero ? left : TimeSpan.Zero;
        }
    }

    /// <summary>True once the budget is spent.</summary>
    public bool Expired => Remaining == TimeSpan.Zero;

    /// <summary>A budget of <paramref name="total"/> from now.</summary>
    public static CallBudget StartNew(TimeSpan total) => new(Stopwatch.GetTimestamp(), total);

    /// <summary>What is left in whole milliseconds, rounded up (a kernel timeout of 0 would mean "forever").</summary>
    public int RemainingMilliseconds() => (int)Math.Ceiling(Math.Min(Remaining.TotalMilliseconds, int.MaxValue));
}
