using Relay.Protocol.V1;

namespace Relay.Broker.Watch;

/// <summary>What one watcher wants: a session or all, some machines or all, some kinds.</summary>
internal sealed class WatchFilter(string? sessionId, IReadOnlySet<string>? machineIds, IReadOnlySet<EventKind> kinds)
{
    public string? SessionId { get; } = sessionId;

    public IReadOnlySet<string>? MachineIds { get; } = machineIds;

    public IReadOnlySet<EventKind> Kinds { get; } = kinds;

    public bool Matches(Event e) =>
        Kinds.Contains(e.Kind)
        && (SessionId is null || e.SessionId == SessionId)
        && (MachineIds is null || MachineIds.Contains(e.MachineId));
}
