namespace Relay.Agent.Hooks;

/// <summary>
/// The command-hook event ids spooled lately, so that a drop file written by a hook client that gave up just before the
/// agent's answer arrived is not spooled a second time (the broker would deduplicate it by event id anyway; this keeps the
/// spool itself exactly-once in the common race). Bounded: the oldest ids are forgotten first.
/// </summary>
internal sealed class RecentEventIds(int capacity = 4096)
{
    private readonly HashSet<string> _ids = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();
    private readonly Lock _lock = new();

    /// <summary>Claims <paramref name="eventId"/>; false when it was claimed before (and not released).</summary>
    public bool TryClaim(string eventId)
    {
        lock (_lock)
        {
            if (!_ids.Add(eventId))
            {
                return false;
            }

            _order.Enqueue(eventId);
            while (_order.Count > capacity)
            {
                _ids.Remove(_order.Dequeue());
            }

            return true;
        }
    }

    /// <summary>Releases a claim whose event did not reach the spool, so that a replay may try again.</summary>
    public void Release(string eventId)
    {
        lock (_lock)
        {
            _ids.Remove(eventId);
        }
    }
}
