using System.Collections.Concurrent;

namespace Relay.Broker.AgentLink;

/// <summary>
/// The live agent streams of this replica, one per machine: a newer stream replaces the older, which is told
/// CONNECTION_REPLACED and ends. (Across replicas the agent_link_state row does the same job: see LinkStateStore.)
/// </summary>
internal sealed class AgentConnectionRegistry
{
    private readonly ConcurrentDictionary<Guid, AgentConnection> _live = new();

    /// <summary>Makes <paramref name="connection"/> its machine's stream and ends the one it replaces, if any.</summary>
    public void Register(AgentConnection connection)
    {
        AgentConnection? previous = null;
        _live.AddOrUpdate(connection.Machine.Id, connection, (_, old) =>
        {
            previous = old;
            return connection;
        });
        if (previous is not null && previous != connection)
        {
            previous.Replace();
        }
    }

    /// <summary>Forgets <paramref name="connection"/> unless a newer stream has taken its place.</summary>
    public void Unregister(AgentConnection connection) => _live.TryRemove(KeyValuePair.Create(connection.Machine.Id, connection));

    /// <summary>True while the machine's agent has a live stream on this replica.</summary>
    public bool IsConnected(Guid machineId) => _live.ContainsKey(machineId);

    /// <summary>The machine's live stream on this replica, if any.</summary>
    public AgentConnection? Find(Guid machineId) => _live.GetValueOrDefault(machineId);

    /// <summary>The live streams of this replica (a moment's view).</summary>
    public IEnumerable<AgentConnection> Live() => _live.Values;

    /// <summary>How many agents are connected to this replica.</summary>
    public int Count => _live.Count;
}
