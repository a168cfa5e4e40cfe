namespace Relay.Tests.Shared;

/// <summary>
/// A clock that moves only when the test says so, with timers that fire when it moves past them (PeriodicTimer, timed
/// CancellationTokenSources, Task.WaitAsync with a timeout). Thread-safe.
/// </summary>
internal sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private readonly Lock _lock = new();
    private readonly List<ManualTimer> _timers = [];
    private readonly List<(Func<TimeSpan, TimeSpan, bool> Match, TaskCompletionSource Armed)> _waiters = [];
    private DateTimeOffset _now = start;

    public ManualTimeProvider()
        : this(DateTimeOffset.UtcNow)
    {
    }

    public override DateTimeOffset GetUtcNow()
    {
        lock (_lock)
        {
            return _now;
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Completes once a timer whose period matches <paramref name="period"/> is armed (a loop is ready for ticks).</summary>
    public Task WaitForTimerAsync(Func<TimeSpan, bool> period, CancellationToken cancellationToken) =>
        WaitForTimerAsync((_, p) => period(p), cancellationToken);

    /// <summary>Completes once a timer is armed whose (due time, period) <paramref name="match"/> accepts (a waiter is ready for the clock).</summary>
    public Task WaitForTimerAsync(Func<TimeSpan, TimeSpan, bool> match, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_timers.Any(t => match(t.DueAt!.Value - _now, t.Period)))
            {
                return Task.CompletedTask;
            }

            var armed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((match, armed));
            return armed.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Moves the clock forward, firing every timer that comes due on the way (periodic ones once per step).</summary>
    public void Advance(TimeSpan by)
    {
        DateTimeOffset target;
        lock (_lock)
        {
            target = _now + by;
        }

        while (true)
        {
            ManualTimer? due;
            lock (_lock)
            {
                due = _timers.Where(t => t.DueAt <= target).MinBy(t => t.DueAt);
                if (due is null)
                {
                    _now = target;
                    return;
                }

                _now = due.DueAt!.Value > _now ? due.DueAt.Value : _now;
                due.DueAt = due.Period > TimeSpan.Zero ? _now + due.Period : null;
                if (due.DueAt is null)
                {
                    _timers.Remove(due);
                }
            }

            due.Fire();
        }
    }

    private sealed class ManualTimer(ManualTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        public DateTimeOffset? DueAt { get; set; }

        public TimeSpan Period { get; private set; }

        public void Fire() => callback(state);

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._lock)
            {
                owner._timers.Remove(this);
                Period = period == Timeout.InfiniteTimeSpan ? TimeSpan.Zero : period;
                DueAt = dueTime == Timeout.InfiniteTimeSpan ? null : owner._now + dueTime;
                if (DueAt is not null)
                {
                    owner._timers.Add(this);
                    foreach (var waiter in owner._waiters.Where(w => w.Match(dueTime, Period)).ToList())
                    {
                        owner._waiters.Remove(waiter);
                        waiter.Armed.TrySetResult();
                    }
                }
            }

            return true;
        }

        public void Dispose()
        {
            lock (owner._lock)
            {
                owner._timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
