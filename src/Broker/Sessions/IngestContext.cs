using Google.Protobuf;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Persistence.Ingest;
using Relay.Protocol.V1;
using EventKind = Relay.Broker.Persistence.Entities.EventKind;

namespace Relay.Broker.Sessions;

/// <summary>
/// One inbound batch of one machine's stream, inside one transaction: what the handlers changed and what must happen
/// after the commit (signals, session bindings, notices). Nothing collected here leaves the process before the commit.
/// </summary>
internal sealed class IngestContext(RelayDbContext db, MachineIdentity machine, MachineSessionCache cache, DateTimeOffset now)
{
    private readonly HashSet<string> _topics = new(StringComparer.Ordinal);
    private readonly Dictionary<Guid, RelaySession> _bindings = [];

    public RelayDbContext Db { get; } = db;

    public MachineIdentity Machine { get; } = machine;

    public MachineSessionCache Cache { get; } = cache;

    /// <summary>The broker's clock for this batch.</summary>
    public DateTimeOffset Now { get; } = now;

    /// <summary>The seq of the message being handled (0 for broker-initiated work).</summary>
    public long Seq { get; set; }

    /// <summary>Event log rows to insert with the batch.</summary>
    public List<IngestEvent> Events { get; } = [];

    /// <summary>Prompts this batch marked delivered: time from creation to delivery, and the path (for metrics after commit).</summary>
    public List<(TimeSpan Latency, string Path)> Deliveries { get; } = [];

    /// <summary>
    /// When preloaded (AgentLink.GroupPreload): the ids of the batch's replies already stored, plus those this batch
    /// stores; null means look each one up.
    /// </summary>
    public HashSet<Guid>? StoredReplies { get; set; }

    /// <summary>
    /// Set by a caller that sends the batch's changes in its own last round trip: SessionReconciler.FinishAsync then
    /// renders them into <see cref="Changes"/> instead of saving, when it can (ChangeCommands).
    /// </summary>
    public bool DeferChanges { get; init; }

    /// <summary>
    /// Entities whose row version the caller checks itself in the round trip that sends <see cref="Changes"/>
    /// (ChangeCommands.TryRender's versionsChecked).
    /// </summary>
    public IReadOnlySet<object>? VersionsChecked { get; init; }

    /// <summary>The batch's inserts and updates, not yet sent, when <see cref="DeferChanges"/> was honoured; else null.</summary>
    public List<Npgsql.NpgsqlBatchCommand>? Changes { get; set; }

    /// <summary>Unsequenced messages for the agent, sent after the commit.</summary>
    public List<BrokerMessage> Replies { get; } = [];

    /// <summary>Sessions whose binding (id, lineage, pid, name, ended) changed; sent to the agent after the commit.</summary>
    public IReadOnlyCollection<RelaySession> ChangedBindings => _bindings.Values;

    public IReadOnlyCollection<string> Topics => _topics;

    /// <summary>Session entries for the event log, written when the batch is finished (their payload is the final state).</summary>
    public List<SessionEventRequest> SessionEvents { get; } = [];

    public void Publish(string topic) => _topics.Add(topic);

    public void BindingChanged(RelaySession session) => _bindings[session.Id] = session;

    /// <summary>Adds an event log row; <paramref name="eventId"/> must be unique per machine (a repeat is skipped).</summary>
    public void AddEvent(
        EventKind kind, Guid eventId, Guid? sessionId, DateTimeOffset occurredAt, IMessage payload,
        Guid? claudeSessionId = null, string? hookEventName = null, string? toolName = null, Guid? machineId = null)
    {
        // machineId: the machine the entry concerns when it is not the reporting one (a message to another machine's session).
        Events.Add(new IngestEvent(machineId ?? Machine.Id, eventId, Seq, kind, occurredAt, ProtoJson.Format(payload))
        {
            RelaySessionId = sessionId,
            ClaudeSessionId = claudeSessionId,
            HookEventName = hookEventName,
            ToolName = toolName,
        });
        _topics.Add(Signals.BrokerSignals.Events);
    }

    /// <summary>A deterministic id for an entry the broker derives from the current message (a retransmit repeats it).</summary>
    public Guid DerivedEventId(string what) => Queries.ClientIds.NameBased($"agentlink/{Machine.Id:D}/{Seq}/{what}");
}

/// <summary>A session_* or channel_* event log entry waiting for the batch's final session state.</summary>
internal sealed record SessionEventRequest(EventKind Kind, RelaySession Session, Guid EventId, DateTimeOffset OccurredAt);

/// <summary>The machine a stream speaks for.</summary>
internal sealed record MachineIdentity(Guid Id, string Name);
