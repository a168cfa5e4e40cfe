using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Relay.Broker.Access;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Entities;
using Relay.Protocol.V1;

namespace Relay.Broker.Audit;

/// <summary>
/// The audit log: who did what, to what, when, from where, and how it went. Every mutation through Admin (and
/// enrolment, revocation, stream replacement) writes one entry. Prefer <see cref="Add(RelayDbContext, AuditRecord)"/>
/// inside the mutation's own transaction, so the change and its audit entry commit together; use
/// <see cref="RecordAsync(AuditRecord, CancellationToken)"/> for actions with no transaction of their own (refusals).
/// </summary>
/// <remarks>
/// The audit_log table has columns for actor, action and target only; the rest of the contract's AuditEvent (outcome,
/// session and machine concerned, remote address, the actor's name at the time) lives in an envelope in the jsonb
/// <c>details</c> column, beside the caller's own details under <c>data</c>.
/// </remarks>
internal sealed partial class AuditLog(IDbContextFactory<RelayDbContext> databases, TimeProvider time, ILogger<AuditLog> logger)
{
    internal static readonly JsonSerializerOptions DetailsJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Writes <paramref name="record"/> in a transaction of its own.</summary>
    public async Task RecordAsync(AuditRecord record, CancellationToken cancellationToken = default)
    {
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        Add(db, record);
        await db.SaveChangesAsync(cancellationToken);
    }

    /// <summary>Writes a succeeded action by <paramref name="actor"/> in a transaction of its own.</summary>
    public Task RecordAsync(Caller actor, string action, AuditTarget target, object? details = null, CancellationToken cancellationToken = default) =>
        RecordAsync(new AuditRecord(actor, action, target) { Details = details }, cancellationToken);

    /// <summary>Stages <paramref name="record"/> in <paramref name="db"/>: it commits with the caller's next SaveChanges.</summary>
    public AuditEntry Add(RelayDbContext db, AuditRecord record)
    {
        var entry = new AuditEntry
        {
            At = time.GetUtcNowForStorage(),
            Actor = record.Actor.AuditActor,
            Action = record.Action,
            Target = record.Target.Kind is null ? null : Truncate(record.Target.Stored, Limits.Actor),
            Details = Envelope(record).ToJsonString(),
        };
        db.AuditLog.Add(entry);
        AuditLogMessages.Recorded(logger, record.Action, record.Target.Stored, entry.Actor, record.Outcome);
        return entry;
    }

    /// <summary>Stages a succeeded action by <paramref name="actor"/> in <paramref name="db"/>.</summary>
    public AuditEntry Add(RelayDbContext db, Caller actor, string action, AuditTarget target, object? details = null) =>
        Add(db, new AuditRecord(actor, action, target) { Details = details });

    /// <summary>The <c>data</c> object of an entry's details (what the handler recorded), or null.</summary>
    public static JsonObject? Data(AuditEntry entry) =>
        entry.Details is { } details && JsonNode.Parse(details) is JsonObject envelope && envelope["data"] is JsonObject data ? data : null;

    /// <summary>An entry as the contract's <see cref="AuditEvent"/>.</summary>
    public static AuditEvent ToEvent(AuditEntry entry)
    {
        var envelope = entry.Details is { } details ? JsonNode.Parse(details) as JsonObject : null;
        if (envelope is not null && !envelope.ContainsKey("outcome"))
        {
            // Written without AuditLog (by hand, or by an older broker): all of it is the action's details.
            envelope = new JsonObject { ["data"] = envelope };
        }

        var target = AuditTarget.Parse(entry.Target);
        return new AuditEvent
        {
            AuditId = entry.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
            At = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(entry.At),
            Actor = ActorPrincipal(entry.Actor, envelope),
            Action = entry.Action,
            TargetKind = target.Kind ?? string.Empty,
            TargetId = target.Id ?? string.Empty,
            SessionId = Text(envelope, "session_id"),
            MachineId = Text(envelope, "machine_id"),
            Outcome = Text(envelope, "outcome") switch
            {
                "denied" => AuditOutcome.Denied,
                "failed" => AuditOutcome.Failed,
                "succeeded" => AuditOutcome.Succeeded,
                _ => AuditOutcome.Unspecified,
            },
            DetailsJson = envelope?["data"]?.ToJsonString() ?? "{}",
            RemoteAddress = Text(envelope, "remote_address"),
        };
    }

    /// <summary>The principal behind a stored actor (<c>token:&lt;id&gt;</c>, <c>machine:&lt;id&gt;</c>, <c>session:&lt;id&gt;</c>, <c>system</c>).</summary>
    public static Principal ActorPrincipal(string actor, JsonObject? envelope = null)
    {
        var colon = actor.IndexOf(':', StringComparison.Ordinal);
        var kind = colon < 0 ? actor : actor[..colon];
        var id = colon < 0 ? string.Empty : actor[(colon + 1)..];
        var principal = new Principal
        {
            Kind = kind switch
            {
                "token" => PrincipalKind.User,
                "machine" => PrincipalKind.Machine,
                "session" => PrincipalKind.Session,
                "system" => PrincipalKind.System,
                _ => PrincipalKind.Unspecified,
            },
            Id = id,
            DisplayName = Text(envelope, "actor_name"),
            MachineId = Text(envelope, "actor_machine_id"),
            MachineName = Text(envelope, "actor_machine_name"),
        };
        if (principal.Kind == PrincipalKind.System && principal.DisplayName.Length == 0)
        {
            principal.DisplayName = Caller.System.DisplayName;
        }

        return principal;
    }

    private static JsonObject Envelope(AuditRecord record)
    {
        var actor = record.Actor;
        var sessionId = record.SessionId?.ToString() ?? (record.Target.Kind == AuditTarget.Kinds.Session ? record.Target.Id : null);
        var machineId = record.MachineId?.ToString() ?? (record.Target.Kind == AuditTarget.Kinds.Machine ? record.Target.Id : null);
        var envelope = new JsonObject
        {
            ["actor_name"] = actor.DisplayName,
            ["outcome"] = record.Outcome switch
            {
                AuditOutcome.Denied => "denied",
                AuditOutcome.Failed => "failed",
                _ => "succeeded",
            },
        };
        AddIfSet(envelope, "actor_machine_id", actor.Kind == PrincipalKind.Session ? actor.MachineId?.ToString() : null);
        AddIfSet(envelope, "actor_machine_name", actor.Kind == PrincipalKind.Session ? actor.MachineName : null);
        AddIfSet(envelope, "session_id", sessionId);
        AddIfSet(envelope, "machine_id", machineId);
        AddIfSet(envelope, "remote_address", actor.RemoteAddress);
        envelope["data"] = record.Details is null
            ? new JsonObject()
            : JsonSerializer.SerializeToNode(record.Details, record.Details.GetType(), DetailsJson) as JsonObject
              ?? throw new ArgumentException("Audit details must serialise to a JSON object.", nameof(record));
        return envelope;
    }

    private static void AddIfSet(JsonObject json, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            json[name] = value;
        }
    }

    private static string Text(JsonObject? json, string name) =>
        json?[name] is JsonValue value && value.TryGetValue<string>(out var text) ? text : string.Empty;

    private static string Truncate(string value, int max) => value.Length <= max ? value : value[..max];
}
