using System.Threading.Channels;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace Relay.Grpc.Health;

/// <summary>
/// The serving status of each service name (and <c>""</c> for the whole server), read by the
/// <c>grpc.health.v1.Health</c> service. Thread-safe.
/// </summary>
public sealed class HealthStatusStore
{
    private readonly Dictionary<string, ServingStatus> _statuses = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<Channel<ServingStatus>>> _watchers = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Creates a store in which the whole server (<c>""</c>) is SERVING.</summary>
    public HealthStatusStore()
    {
        _statuses[string.Empty] = ServingStatus.Serving;
    }

    /// <summary>Sets the status of <paramref name="service"/> and tells its watchers.</summary>
    public void SetStatus(string service, ServingStatus status)
    {
        ArgumentNullException.ThrowIfNull(service);
        lock (_lock)
        {
            _statuses[service] = status;
            Notify(service, status);
        }
    }

    /// <summary>Sets every registered service, and the server, to <paramref name="status"/>.</summary>
    public void SetAll(ServingStatus status)
    {
        lock (_lock)
        {
            foreach (var service in _statuses.Keys.ToArray())
            {
                _statuses[service] = status;
                Notify(service, status);
            }
        }
    }

    /// <summary>Forgets <paramref name="service"/>: Check answers NOT_FOUND, watchers see SERVICE_UNKNOWN.</summary>
    public void ClearStatus(string service)
    {
        lock (_lock)
        {
            _statuses.Remove(service);
            Notify(service, ServingStatus.ServiceUnknown);
        }
    }

    /// <summary>The status of <paramref name="service"/>, or null when it is not registered.</summary>
    public ServingStatus? GetStatus(string service)
    {
        lock (_lock)
        {
            return _statuses.TryGetValue(service, out var status) ? status : null;
        }
    }

    /// <summary>The current status, then each change, until cancelled. Unknown services report SERVICE_UNKNOWN.</summary>
    internal ChannelReader<ServingStatus> Watch(string service, out Action unsubscribe)
    {
        // Only the newest status matters to a watcher: a slow one skips stale values, never grows memory.
        var channel = Channel.CreateBounded<ServingStatus>(new BoundedChannelOptions(1)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
        lock (_lock)
        {
            channel.Writer.TryWrite(_statuses.TryGetValue(service, out var status) ? status : ServingStatus.ServiceUnknown);
            if (!_watchers.TryGetValue(service, out var list))
            {
                _watchers[service] = list = [];
            }

            list.Add(channel);
        }

        unsubscribe = () =>
        {
            lock (_lock)
            {
                if (_watchers.TryGetValue(service, out var list))
                {
                    list.Remove(channel);
                    if (list.Count == 0)
                    {
                        _watchers.Remove(service);
                    }
                }
            }
        };
        return channel.Reader;
    }

    private void Notify(string service, ServingStatus status)
    {
        if (_watchers.TryGetValue(service, out var list))
        {
            foreach (var channel in list)
            {
                channel.Writer.TryWrite(status);
            }
        }
    }
}
