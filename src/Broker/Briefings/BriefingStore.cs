using Google.Protobuf.WellKnownTypes;
using Microsoft.EntityFrameworkCore;
using Relay.Broker.Access;
using Relay.Broker.Audit;
using Relay.Broker.Persistence;
using Relay.Broker.Signals;
using Relay.Broker.Validation;
using BriefingMessage = Relay.Protocol.V1.Briefing;
using BriefingRow = Relay.Broker.Persistence.Entities.Briefing;

namespace Relay.Broker.Briefings;

/// <summary>
/// Standing briefings: a text per session name that agents hand to Claude as SessionStart context. Changes publish
/// <see cref="ChangedTopic"/> on <see cref="BrokerSignals"/> so the AgentLink streams can push a BriefingUpdate.
/// </summary>
internal sealed class BriefingStore(IDbContextFactory<RelayDbContext> databases, AuditLog audit, BrokerSignals signals, TimeProvider time)
{
    /// <summary>Claude Code's cap on additionalContext (resources.proto), and so on a briefing.</summary>
    public const int MaxTextLength = 10_000;

    /// <summary>The <see cref="BrokerSignals"/> topic published after a briefing is set or deleted.</summary>
    public const string ChangedTopic = "briefings";

    public async Task<BriefingMessage> SetAsync(Caller caller, string? name, string? text, CancellationToken cancellationToken = default)
    {
        var sessionName = Require.Name(name, "name");
        if (string.IsNullOrWhiteSpace(text))
        {
            throw RpcErrors.InvalidArgument("text is required; to remove a briefing, delete it (relayctl briefings delete).");
        }

        Require.OptionalText(text, "text", MaxTextLength);
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var row = await db.Briefings.FromSql($"SELECT * FROM briefings WHERE session_name = {sessionName} FOR UPDATE").FirstOrDefaultAsync(cancellationToken);
        var now = time.GetUtcNowForStorage();
        if (row is null)
        {
            row = new BriefingRow { SessionName = sessionName, Text = text, UpdatedBy = caller.AuditActor, UpdatedAt = now };
            db.Briefings.Add(row);
        }
        else
        {
            row.Text = text;
            row.UpdatedBy = caller.AuditActor;
            row.UpdatedAt = now;
        }

        audit.Add(db, caller, AuditActions.BriefingSet, AuditTarget.Briefing(sessionName), new { Characters = text.Length });
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        signals.Publish(ChangedTopic);
        return ToMessage(row, caller.ToPrincipal());
    }

    public async Task<BriefingMessage> GetAsync(string? name, CancellationToken cancellationToken = default)
    {
        var sessionName = Require.Name(name, "name");
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        var row = await db.Briefings.AsNoTracking().FirstOrDefaultAsync(b => b.SessionName == sessionName, cancellationToken)
            ?? throw NotFound(sessionName);
        return (await ToMessagesAsync(db, [row], cancellationToken))[0];
    }

    /// <summary>The briefing text for sessions named <paramref name="sessionName"/>, or null (for SessionStart on AgentLink).</summary>
    public async Task<string?> FindTextAsync(string sessionName, CancellationToken cancellationToken = default)
    {
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        return await db.Briefings.AsNoTracking().Where(b => b.SessionName == sessionName).Select(b => b.Text).FirstOrDefaultAsync(cancellationToken);
    }

    public async Task<Protocol.V1.ListBriefingsResponse> ListAsync(int requestedPageSize, string? pageToken, CancellationToken cancellationToken = default)
    {
        var pageSize = PageToken.Size(requestedPageSize);
        var after = PageToken.Decode(pageToken);
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        var query = db.Briefings.AsNoTracking();
        if (after is not null)
        {
            query = query.Where(b => string.Compare(b.SessionName, after) > 0);
        }

        var rows = await query.OrderBy(b => b.SessionName).Take(pageSize + 1).ToListAsync(cancellationToken);
        var response = new Protocol.V1.ListBriefingsResponse();
        response.Briefings.AddRange(await ToMessagesAsync(db, rows.Take(pageSize).ToList(), cancellationToken));
        if (rows.Count > pageSize)
        {
            response.NextPageToken = PageToken.Encode(rows[pageSize - 1].SessionName);
        }

        return response;
    }

    public async Task DeleteAsync(Caller caller, string? name, CancellationToken cancellationToken = default)
    {
        var sessionName = Require.Name(name, "name");
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var deleted = await db.Briefings.Where(b => b.SessionName == sessionName).ExecuteDeleteAsync(cancellationToken);
        if (deleted == 0)
        {
            throw NotFound(sessionName);
        }

        audit.Add(db, caller, AuditActions.BriefingDelete, AuditTarget.Briefing(sessionName));
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        signals.Publish(ChangedTopic);
    }

    private static async Task<List<BriefingMessage>> ToMessagesAsync(RelayDbContext db, IReadOnlyList<BriefingRow> rows, CancellationToken cancellationToken)
    {
        var principals = await Principals.ResolveAsync(db, rows.Select(r => r.UpdatedBy), cancellationToken);
        return rows.Select(r => ToMessage(r, principals[r.UpdatedBy])).ToList();
    }

    private static BriefingMessage ToMessage(BriefingRow row, Protocol.V1.Principal updatedBy) => new()
    {
        Name = row.SessionName,
        Text = row.Text,
        UpdatedAt = Timestamp.FromDateTimeOffset(row.UpdatedAt),
        UpdatedBy = updatedBy,
    };

    private static Grpc.RpcException NotFound(string name) =>
        RpcErrors.NotFound($"No briefing for session name '{Require.Shorten(name)}' (relayctl briefings list shows the names).");
}
