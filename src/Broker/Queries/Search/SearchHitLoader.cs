using Google.Protobuf.WellKnownTypes;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Relay.Broker.Persistence;
using Relay.Broker.Prompts;
using Relay.Broker.Queries.Sessions;
using Relay.Broker.Watch.Timeline;
using Relay.Protocol.V1;

namespace Relay.Broker.Queries.Search;

/// <summary>
/// The matched prompts and replies as Events, with the cursor of their event log entry when it is still retained, so a
/// client can open the history around a hit.
/// </summary>
internal sealed class SearchHitLoader(NpgsqlDataSource dataSource, IDbContextFactory<RelayDbContext> dbFactory, PromptReader prompts)
{
    public async Task<Dictionary<Guid, Event>> LoadAsync(
        IReadOnlyList<SearchQuery.Match> matches, IReadOnlyDictionary<Guid, SessionRow> sessions, CancellationToken cancellationToken)
    {
        var promptIds = matches.Where(m => m.IsPrompt).Select(m => m.Id).ToList();
        var replyIds = matches.Where(m => !m.IsPrompt).Select(m => m.Id).ToList();
        var promptMessages = await prompts.GetManyAsync(promptIds, cancellationToken);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var replyRows = await db.Replies.AsNoTracking().Where(r => replyIds.Contains(r.Id)).ToListAsync(cancellationToken);

        // Entries: Admin's "created" entry has an id derived from the prompt's, AgentLink's (session messages) the
        // prompt's own; a reply's entry carries the reply id.
        var entryIds = promptIds.Select(PromptEntries.CreatedId).Concat(promptIds).Concat(replyIds).ToHashSet();

        var machineIds = matches.Select(m => sessions.TryGetValue(m.SessionId, out var s) ? s.MachineId : Guid.Empty).Distinct().ToArray();
        var entries = await EntriesAsync(machineIds, entryIds.ToArray(), cancellationToken);

        var events = new Dictionary<Guid, Event>();
        foreach (var match in matches)
        {
            if (!sessions.TryGetValue(match.SessionId, out var session))
            {
                continue;
            }

            var e = new Event { MachineId = session.MachineId.ToString("D"), SessionId = session.Id.ToString("D") };
            if (match.IsPrompt && promptMessages.TryGetValue(match.Id, out var prompt))
            {
                e.Kind = EventKind.PromptCreated;
                e.Prompt = prompt;
                e.OccurredAt = prompt.CreatedAt;
                e.EventId = PromptEntries.CreatedId(match.Id).ToString("D");
                Locate(e, entries.GetValueOrDefault(PromptEntries.CreatedId(match.Id)) ?? entries.GetValueOrDefault(match.Id));
            }
            else if (replyRows.FirstOrDefault(r => r.Id == match.Id) is { } reply)
            {
                e.Kind = EventKind.Reply;
                e.Reply = PromptMapper.ToProto(reply, session.Name, session.MachineId);
                e.OccurredAt = e.Reply.CreatedAt;
                e.EventId = reply.Id.ToString("D");
                Locate(e, entries.GetValueOrDefault(reply.Id));
            }
            else
            {
                continue;
            }

            events[match.Id] = e;
        }

        return events;
    }

    private static void Locate(Event e, (long Id, DateTimeOffset RecordedAt)? entry)
    {
        if (entry is { } found)
        {
            e.Cursor = EventCursor.Format(found.Id);
            e.RecordedAt = Timestamp.FromDateTimeOffset(found.RecordedAt);
        }
    }

    private async Task<Dictionary<Guid, (long Id, DateTimeOffset RecordedAt)?>> EntriesAsync(Guid[] machineIds, Guid[] entryIds, CancellationToken cancellationToken)
    {
        var found = new Dictionary<Guid, (long, DateTimeOffset)?>();
        if (entryIds.Length == 0)
        {
            return found;
        }

        await using var command = dataSource.CreateCommand(
            "SELECT agent_event_id, id, received_at FROM events WHERE machine_id = ANY($1) AND agent_event_id = ANY($2)");
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = machineIds });
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = entryIds });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            found[reader.GetGuid(0)] = (reader.GetInt64(1), reader.GetFieldValue<DateTimeOffset>(2));
        }

        return found;
    }
}
