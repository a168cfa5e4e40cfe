using Relay.Agent.Config;

namespace Relay.Agent.Local;

/// <summary>This machine's id and name: from agent.json at start, then from each Welcome (the broker's word wins).</summary>
internal sealed class MachineIdentity
{
    private Names _names;

    public MachineIdentity(AgentConfigStore config)
    {
        try
        {
            var loaded = config.Load();
            _names = new Names(loaded.MachineId ?? string.Empty, loaded.MachineName ?? string.Empty);
        }
        catch (AgentConfigException)
        {
            _names = new Names(string.Empty, string.Empty);
        }
    }

    public string Id => Volatile.Read(ref _names).Id;

    public string Name => Volatile.Read(ref _names).Name;

    public void Update(string id, string name)
    {
        if (id.Length > 0)
        {
            Volatile.Write(ref _names, new Names(id, name));
        }
    }

    private sealed record Names(string Id, string Name);
}
