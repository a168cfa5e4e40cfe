namespace Relay.Agent.Local;

/// <summary>The attached channels: one per session, found by channel id or by session.</summary>
internal sealed class ChannelRegistry
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ChannelConnection> _byId = new(StringComparer.Ordinal);
    private readonly Dictionary<long, ChannelConnection> _bySession = [];

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _bySession.Count;
            }
        }
    }

    /// <summary>Makes <paramref name="connection"/> its session's channel and returns the one it replaces, if any.</summary>
    public ChannelConnection? Attach(ChannelConnection connection)
    {
        lock (_lock)
        {
            _bySession.TryGetValue(connection.SessionId, out var replaced);
            if (replaced is not null)
            {
                _byId.Remove(replaced.Id);
            }

            _bySession[connection.SessionId] = connection;
            _byId[connection.Id] = connection;
            return replaced;
        }
    }

    /// <summary>Removes <paramref name="connection"/>; true when it was still its session's channel (not replaced).</summary>
    public bool Detach(ChannelConnection connection)
    {
        lock (_lock)
        {
            _byId.Remove(connection.Id);
            if (_bySession.TryGetValue(connection.SessionId, out var current) && current == connection)
            {
                _bySession.Remove(connection.SessionId);
                return true;
            }

            return false;
        }
    }

    public ChannelConnection? Get(string? channelId)
    {
        if (channelId is null)
        {
            return null;
        }

        lock (_lock)
        {
            return _byId.GetValueOrDefault(channelId);
        }
    }

    public ChannelConnection? ForSession(long sessionId)
    {
        lock (_lock)
        {
            return _bySession.GetValueOrDefault(sessionId);
        }
    }

    public IReadOnlyList<ChannelConnection> All()
    {
        lock (_lock)
        {
            return _bySession.Values.ToList();
        }
    }
}
