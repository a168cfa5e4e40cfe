namespace Relay.Agent.Tests.Local;

/// <summary>
/// A journal flush (<see cref="Relay.Agent.Local.JournalFile"/>'s fsync) that a test holds: each flush waits for
/// <see cref="Release"/>, then fsyncs, or throws what <see cref="FailNext"/> set. Runs on the thread that writes the
/// journal, so whatever leads the write must not be the test's own thread.
/// </summary>
internal sealed class HeldFlush(CancellationToken cancellationToken)
{
    private readonly SemaphoreSlim _entered = new(0);
    private readonly SemaphoreSlim _released = new(0);
    private Exception? _failNext;
    private int _count;
    private volatile bool _open;

    /// <summary>Flushes started so far.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>The next released flush throws this instead of flushing.</summary>
    public void FailNext(Exception exception) => Volatile.Write(ref _failNext, exception);

    public void Flush(FileStream stream)
    {
        Interlocked.Increment(ref _count);
        _entered.Release();
        if (!_open)
        {
            try
            {
                _released.Wait(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // The journal's writer may be a pool thread, where only an I/O failure is expected.
                throw new IOException("The test ended while this flush was held.");
            }
        }

        if (Interlocked.Exchange(ref _failNext, null) is { } failure)
        {
            throw failure;
        }

        stream.Flush(flushToDisk: true);
    }

    /// <summary>Completes when a flush has started (one per call).</summary>
    public Task EnteredAsync() => _entered.WaitAsync(cancellationToken);

    /// <summary>Lets one flush go on.</summary>
    public void Release() => _released.Release();

    /// <summary>From now on no flush is held (for what a test does not look at, such as the lines after a receipt).</summary>
    public void Open()
    {
        _open = true;
        _released.Release(int.MaxValue / 2);
    }
}
