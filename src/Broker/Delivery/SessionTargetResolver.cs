using Microsoft.EntityFrameworkCore;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Entities;
using Relay.Protocol.V1;
using Machine = Relay.Broker.Persistence.Entities.Machine;
using SessionStatus = Relay.Broker.Persistence.Entities.SessionStatus;

namespace Relay.Broker.Delivery;

/// <summary>
/// Resolves a SessionSelector for a session message (common.proto rules), answering with an ErrorCode instead of a gRPC
/// status: the sender is a session on a stream, not a unary caller.
/// </summary>
internal static class SessionTargetResolver
{
    private const int MinPrefixLength = 6;

    internal readonly record struct Result(RelaySession? Session, string? MachineName, ErrorCode Code, string Reason);

    public static async Task<Result> ResolveAsync(RelayDbContext db, SessionSelector? selector, CancellationToken cancellationToken)
    {
        if (selector is null || selector.ByCase == SessionSelector.ByOneofCase.None)
        {
            return Fail(ErrorCode.InvalidArgument, "Name the target session: session_id, claude_session_id, launch_id, name or lookup.");
        }

        var machine = await ScopeAsync(db, selector.Machine, cancellationToken);
        if (selector.Machine.Length > 0 && machine is null)
        {
            return Fail(ErrorCode.NotFound, $"No machine is named '{selector.Machine}'.");
        }

        List<RelaySession> found;
        switch (selector.ByCase)
        {
            case SessionSelector.ByOneofCase.SessionId:
                found = Guid.TryParse(selector.SessionId, out var id) ? await db.Sessions.Where(s => s.Id == id).ToListAsync(cancellationToken) : [];
                break;
            case SessionSelector.ByOneofCase.ClaudeSessionId:
                found = Guid.TryParse(selector.ClaudeSessionId, out var claudeId) ? await ByClaudeIdAsync(db, claudeId, cancellationToken) : [];
                break;
            case SessionSelector.ByOneofCase.LaunchId:
                found = await ByLaunchAsync(db, selector.LaunchId, cancellationToken);
                break;
            case SessionSelector.ByOneofCase.Name:
                return await ByNameAsync(db, selector.Name, machine, cancellationToken);
            default:
                return await ByLookupAsync(db, selector.Lookup.Trim(), machine, cancellationToken);
        }

        return found.Count == 1 ? await FoundAsync(db, found[0], cancellationToken) : Fail(ErrorCode.NotFound, "No session matches the target.");
    }

    private static async Task<Result> ByLookupAsync(RelayDbContext db, string text, Machine? machine, CancellationToken cancellationToken)
    {
        if (text.Length == 0)
        {
            return Fail(ErrorCode.InvalidArgument, "The lookup text is empty.");
        }

        if (Guid.TryParse(text, out var id))
        {
            foreach (var candidates in new[] { await db.Sessions.Where(s => s.Id == id).ToListAsync(cancellationToken), await ByClaudeIdAsync(db, id, cancellationToken) })
            {
                if (candidates.Count == 1)
                {
                    return await FoundAsync(db, candidates[0], cancellationToken);
                }
            }
        }

        var launched = await ByLaunchAsync(db, text, cancellationToken);
        if (launched.Count == 1)
        {
            return await FoundAsync(db, launched[0], cancellationToken);
        }

        if (text.Length >= MinPrefixLength && text.All(c => char.IsAsciiHexDigit(c) || c == '-'))
        {
            var prefix = text.ToLowerInvariant();
            var byPrefix = await db.Sessions
                .Where(s => s.Id.ToString().StartsWith(prefix) || db.SessionSegments.Any(g => g.RelaySessionId == s.Id && g.ClaudeSessionId.ToString().StartsWith(prefix)))
                .Take(2)
                .ToListAsync(cancellationToken);
            if (byPrefix.Count == 1)
            {
                return await FoundAsync(db, byPrefix[0], cancellationToken);
            }
        }

        return await ByNameAsync(db, text, machine, cancellationToken);
    }

    /// <summary>The one live session with the name; with none live, the most recently active ended one.</summary>
    private static async Task<Result> ByNameAsync(RelayDbContext db, string name, Machine? machine, CancellationToken cancellationToken)
    {
        var query = db.Sessions.Where(s => s.Name == name);
        if (machine is not null)
        {
            query = query.Where(s => s.MachineId == machine.Id);
        }

        var live = await query.Where(s => s.Status != SessionStatus.Ended).Take(11).ToListAsync(cancellationToken);
        if (live.Count > 1)
        {
            return Fail(ErrorCode.Ambiguous, $"{live.Count}{(live.Count > 10 ? "+" : "")} live sessions are named '{name}': " +
                string.Join(", ", live.Take(10).Select(s => s.Id.ToString("D"))) + ". Name one by session_id, or scope by machine.");
        }

        var session = live.Count == 1 ? live[0] : await query.OrderByDescending(s => s.UpdatedAt).FirstOrDefaultAsync(cancellationToken);
        return session is null ? Fail(ErrorCode.NotFound, $"No session is named '{name}'.") : await FoundAsync(db, session, cancellationToken);
    }

    private static Task<List<RelaySession>> ByClaudeIdAsync(RelayDbContext db, Guid claudeId, CancellationToken cancellationToken) =>
        db.Sessions.Where(s => db.SessionSegments.Any(g => g.ClaudeSessionId == claudeId && g.RelaySessionId == s.Id)).ToListAsync(cancellationToken);

    private static async Task<List<RelaySession>> ByLaunchAsync(RelayDbContext db, string launchId, CancellationToken cancellationToken)
    {
        if (launchId.Length is 0 or > Limits.IdempotencyKey)
        {
            return [];
        }

        var id = Queries.ClientIds.ToGuid("launch", launchId);
        return await db.Sessions.Where(s => s.LaunchId == id).ToListAsync(cancellationToken);
    }

    private static async Task<Machine?> ScopeAsync(RelayDbContext db, string machine, CancellationToken cancellationToken)
    {
        if (machine.Length == 0)
        {
            return null;
        }

        return Guid.TryParse(machine, out var id)
            ? await db.Machines.FirstOrDefaultAsync(m => m.Id == id, cancellationToken)
            : await db.Machines.FirstOrDefaultAsync(m => m.Name == machine, cancellationToken);
    }

    private static async Task<Result> FoundAsync(RelayDbContext db, RelaySession session, CancellationToken cancellationToken)
    {
        var machineName = await db.Machines.Where(m => m.Id == session.MachineId).Select(m => m.Name).FirstAsync(cancellationToken);
        return new Result(session, machineName, ErrorCode.Unspecified, string.Empty);
    }

    private static Result Fail(ErrorCode code, string reason) => new(null, null, code, reason);
}
