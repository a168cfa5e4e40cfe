namespace Relay.Channel.Tests.Infrastructure;

/// <summary>A thread-safe, append-only list a test can wait on: "until an item matching this arrives".</summary>
internal sealed class MessageLog<T>
{
    private readonly List<T> _items = [];
    private readonly Lock _gate = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Add(T item)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            _items.Add(item);
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    public IReadOnlyList<T> Snapshot()
    {
        lock (_gate)
        {
            return [.. _items];
        }
    }

    /// <summary>The first item (old or new) for which <paramref name="select"/> returns non-null.</summary>
    public async Task<TResult> WaitForAsync<TResult>(Func<T, TResult?> select, CancellationToken cancellationToken)
        where TResult : class
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                foreach (var item in _items)
                {
                    if (select(item) is { } result)
                    {
                        return result;
                    }
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> items match.</summary>
    public async Task<IReadOnlyList<T>> WaitForCountAsync(Func<T, bool> match, int count, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                var matching = _items.Where(match).ToList();
                if (matching.Count >= count)
                {
                    return matching;
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken);
        }
    }
}
