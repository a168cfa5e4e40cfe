using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Npgsql;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Persistence.Ingest;
using Relay.Broker.Tests.Infrastructure;
using Pb = Relay.Protocol.V1;

namespace Relay.Broker.Tests.Queries;

/// <summary>Rows the steering tests need, written straight into the database (AgentLink's side of the world).</summary>
internal static class SteeringSeed
{
    public static async Task<Machine> MachineAsync(TestDatabase database, string? name = null, bool online = false, CancellationToken cancellationToken = default)
    {
        var now = DateTimeOffset.UtcNow;
        var machine = new Machine { Id = Guid.NewGuid(), Name = name ?? "m-" + Guid.NewGuid().ToString("N")[..10], CreatedAt = now, ConnectedAt = online ? now : null };
        await using var db = database.CreateContext();
        db.Machines.Add(machine);
        if (online)
        {
            db.AgentLinkStates.Add(new AgentLinkState { MachineId = machine.Id, LeaseHolder = "test", LeaseExpiresAt = now.AddHours(1), UpdatedAt = now });
        }

        await db.SaveChangesAsync(cancellationToken);
        return machine;
    }

    public static async Task<RelaySession> SessionAsync(
        TestDatabase database,
        Machine machine,
        string? name = null,
        SessionStatus status = SessionStatus.Working,
        string cwd = "/home/dev/project",
        Guid[]? claudeIds = null,
        Guid? id = null,
        Guid? launchId = null,
        DateTimeOffset? lastActivity = null,
        CancellationToken cancellationToken = default)
    {
        var now = lastActivity ?? DateTimeOffset.UtcNow;
        var session = new RelaySession
        {
            Id = id ?? Guid.NewGuid(),
            MachineId = machine.Id,
            Name = name,
            Cwd = cwd,
            LaunchId = launchId,
            Status = status,
            CreatedAt = now,
            UpdatedAt = now,
            LastActivityAt = now,
            EndedAt = status == SessionStatus.Ended ? now : null,
            EndReason = status == SessionStatus.Ended ? "exited" : null,
        };
        await using var db = database.CreateContext();
        db.Sessions.Add(session);
        var ordinal = 0;
        foreach (var claudeId in claudeIds ?? [Guid.NewGuid()])
        {
            db.SessionSegments.Add(new SessionSegment
            {
                ClaudeSessionId = claudeId,
                RelaySessionId = session.Id,
                Source = ordinal == 0 ? SegmentSource.Startup : SegmentSource.Clear,
                Ordinal = ordinal,
                StartedAt = now.AddMinutes(ordinal),
            });
            ordinal++;
        }

        await db.SaveChangesAsync(cancellationToken);
        return session;
    }

    /// <summary>Hook events for a session through the real ingest writer (event-order lock, dedup); returns their positions.</summary>
    public static async Task<List<long>> HooksAsync(TestDatabase database, RelaySession session, int count, int rawJsonBytes = 100, CancellationToken cancellationToken = default)
    {
        var writer = new EventIngestWriter(database.DataSource, TimeProvider.System);
        var events = Enumerable.Range(0, count).Select(i => Hook(session, i, rawJsonBytes)).ToList();
        var stored = await writer.WriteAsync(events, cancellationToken);
        return stored.Select(s => s.EventId).ToList();
    }

    public static IngestEvent Hook(RelaySession session, int i, int rawJsonBytes = 100)
    {
        var id = Guid.NewGuid();
        var hook = new Pb.HookEvent
        {
            EventId = id.ToString("D"),
            HookEventName = i % 2 == 0 ? "PreToolUse" : "PostToolUse",
            RawJson = "{\"n\":" + i + ",\"pad\":\"" + new string('x', rawJsonBytes) + "\"}",
            Fields = new Pb.HookFields { ToolName = "Bash" },
            OccurredAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
        };
        return new IngestEvent(session.MachineId, id, 0, EventKind.Hook, DateTimeOffset.UtcNow, JsonFormatter.Default.Format(hook))
        {
            RelaySessionId = session.Id,
            HookEventName = hook.HookEventName,
            ToolName = "Bash",
        };
    }

    public static async Task<Approval> ApprovalAsync(TestDatabase database, RelaySession session, string tool = "Bash", DateTimeOffset? expiresAt = null, CancellationToken cancellationToken = default)
    {
        var approval = new Approval
        {
            Id = Guid.NewGuid(),
            RelaySessionId = session.Id,
            RequestId = "abcde",
            Origin = ApprovalOrigin.Channel,
            ToolName = tool,
            Description = "run the tests",
            Status = ApprovalStatus.Pending,
            CreatedAt = DateTimeOffset.UtcNow,
            ExpiresAt = expiresAt ?? DateTimeOffset.UtcNow.AddHours(1),
        };
        await using var db = database.CreateContext();
        db.Approvals.Add(approval);
        await db.SaveChangesAsync(cancellationToken);
        return approval;
    }

    public static async Task<long> ScalarAsync(TestDatabase database, string sql, params object[] parameters)
    {
        await using var command = database.DataSource.CreateCommand(sql);
        foreach (var p in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = p });
        }

        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
