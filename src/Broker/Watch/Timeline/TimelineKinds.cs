using Relay.Broker.Persistence;
using Relay.Protocol.V1;

namespace Relay.Broker.Watch.Timeline;

/// <summary>
/// The stored kinds of the events table and the relay.v1 EventKind each is shown as. Agents' reports are stored under
/// the persistence EventKind names (hook, reply, prompt_receipt, ...); broker-originated entries under the snake_case
/// of the relay.v1 EventKind they are (prompt_created, approval_resolved, ...). Stored kinds missing here
/// (session_snapshot, stop_requested, ...) are internal and never shown, though cursors step over them.
/// </summary>
internal static class TimelineKinds
{
    public const string PromptCreated = "prompt_created";
    public const string PromptUpdated = "prompt_updated";
    public const string ApprovalResolved = "approval_resolved";
    public const string SessionStarted = "session_started";
    public const string SessionUpdated = "session_updated";
    public const string LaunchUpdated = "launch_updated";

    /// <summary>A StopSession request for the machine's agent (internal: the session's end is what people see).</summary>
    public const string StopRequested = "stop_requested";

    private static readonly Dictionary<string, EventKind> Shown = BuildShown();

    private static readonly Dictionary<EventKind, string[]> StoredByKind = Shown
        .GroupBy(pair => pair.Value, pair => pair.Key)
        .ToDictionary(group => group.Key, group => group.Order(StringComparer.Ordinal).ToArray());

    /// <summary>Every kind a watcher of all sessions and machines sees.</summary>
    public static IReadOnlyCollection<EventKind> All { get; } = StoredByKind.Keys.Order().ToArray();

    /// <summary>The kinds that concern a session (history's default): everything but machine events.</summary>
    public static IReadOnlyCollection<EventKind> SessionKinds { get; } =
        All.Where(k => k is not (EventKind.MachineConnected or EventKind.MachineDisconnected or EventKind.MachineUpdated)).ToArray();

    /// <summary>How a stored kind is shown; null for internal kinds.</summary>
    public static EventKind? ToProto(string stored) => Shown.TryGetValue(stored, out var kind) ? kind : null;

    /// <summary>The stored kinds that show as <paramref name="kinds"/>.</summary>
    public static string[] Stored(IEnumerable<EventKind> kinds) =>
        kinds.SelectMany(k => StoredByKind.GetValueOrDefault(k, [])).Distinct(StringComparer.Ordinal).ToArray();

    /// <summary>The requested kinds, or <paramref name="defaults"/> when none; INVALID_ARGUMENT for UNSPECIFIED or unknown values.</summary>
    public static IReadOnlyCollection<EventKind> Validate(IEnumerable<EventKind> requested, IReadOnlyCollection<EventKind> defaults, string field)
    {
        var kinds = requested.ToList();
        for (var i = 0; i < kinds.Count; i++)
        {
            if (kinds[i] == EventKind.Unspecified || !StoredByKind.ContainsKey(kinds[i]))
            {
                throw Queries.AdminErrors.InvalidArgument($"{field}[{i}]", $"{kinds[i]} is not an event kind.");
            }
        }

        return kinds.Count == 0 ? defaults : kinds.Distinct().ToArray();
    }

    private static Dictionary<string, EventKind> BuildShown()
    {
        var shown = new Dictionary<string, EventKind>(StringComparer.Ordinal);
        foreach (var kind in Enum.GetValues<EventKind>().Where(k => k != EventKind.Unspecified))
        {
            shown[SnakeCase.From(kind.ToString())] = kind; // prompt_created, session_ended, machine_updated, ...
        }

        // What agents report (Persistence.Entities.EventKind), and the outcome messages AgentLink stores.
        shown["hook"] = EventKind.Hook;
        shown["prompt_receipt"] = EventKind.PromptUpdated;
        shown["permission_request"] = EventKind.ApprovalRequested;
        shown["permission_closed"] = EventKind.ApprovalResolved;
        shown["launch_result"] = EventKind.LaunchUpdated;
        shown["agent_connected"] = EventKind.MachineConnected;
        shown["agent_disconnected"] = EventKind.MachineDisconnected;
        shown["stream_replaced"] = EventKind.MachineDisconnected;
        shown["events_dropped"] = EventKind.MachineUpdated;
        return shown;
    }
}
