namespace Relay.Broker.Watch;

/// <summary>
/// Waits for a response write that must not be cancelled: Kestrel resets a stream whose write is cancelled after it
/// started, with INTERNAL_ERROR, so a watcher would never read why its watch ended. When the watch has to end (its
/// buffer overflowed, or its call is ending) while the write waits on a watcher that is not reading, the watcher gets a
/// grace period to take the write, and then reads the status with the cursor to resume from.
/// </summary>
internal static class WriteWait
{
    /// <summary>True when the write completed; false when the watch had to end and the write did not complete within
    /// <paramref name="grace"/> after that: the caller resets the stream. A failed write rethrows its exception.</summary>
    public static async Task<bool> WaitAsync(Task write, TimeSpan grace, TimeProvider timeProvider, ILogger logger, CancellationToken overflowed, CancellationToken ending)
    {
        if (write.IsCompleted)
        {
            await write.ConfigureAwait(false);
            return true;
        }

        using (var end = CancellationTokenSource.CreateLinkedTokenSource(ending, overflowed))
        {
            try
            {
                await write.WaitAsync(end.Token).ConfigureAwait(false);
                return true;
            }
            catch (OperationCanceledException) when (end.IsCancellationRequested)
            {
                // The write may have finished meanwhile; the wait below then returns (or throws) at once.
            }
        }

        // The write itself ends with the call's own token, so a watcher that went away ends this wait too.
        if (!write.IsCompleted)
        {
            WatchLog.StalledWriteGraceStarted(logger, grace);
        }

        try
        {
            await write.WaitAsync(grace, timeProvider, CancellationToken.None).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            WatchLog.StalledWriteReset(logger, grace);
            return false;
        }
    }
}
