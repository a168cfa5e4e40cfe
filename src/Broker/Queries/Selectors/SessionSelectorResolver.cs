using Npgsql;
using Relay.Broker.Queries.Sessions;
using Relay.Protocol.V1;

namespace Relay.Broker.Queries.Selectors;

/// <summary>
/// Resolves a SessionSelector (common.proto) to one session: NOT_FOUND when nothing matches, FAILED_PRECONDITION listing
/// the candidates when several do.
/// </summary>
internal sealed partial class SessionSelectorResolver(NpgsqlDataSource dataSource, MachineResolver machines, TimeProvider timeProvider)
{
    /// <summary>The shortest id prefix a lookup accepts, so that a prefix is specific enough to type safely.</summary>
    public const int MinPrefixLength = 6;

    // One more than shown, to say "and more".
    private const int MaxCandidates = 10;

    public async Task<SessionRow> ResolveAsync(SessionSelector? selector, string field, CancellationToken cancellationToken)
    {
        if (selector is null || selector.ByCase == SessionSelector.ByOneofCase.None)
        {
            throw AdminErrors.InvalidArgument(field, "set one of session_id, claude_session_id, launch_id, name or lookup.");
        }

        return selector.ByCase switch
        {
            SessionSelector.ByOneofCase.SessionId => await ResolveAsync(
                BySessionId(RequireUuid(selector.SessionId, field + ".session_id"), selector.SessionId), cancellationToken),
            SessionSelector.ByOneofCase.ClaudeSessionId => await ResolveAsync(
                ByClaudeSessionId(RequireUuid(selector.ClaudeSessionId, field + ".claude_session_id"), selector.ClaudeSessionId), cancellationToken),
            SessionSelector.ByOneofCase.LaunchId => await ResolveAsync(
                ByLaunchId(LaunchGuid(selector.LaunchId, field + ".launch_id"), selector.LaunchId), cancellationToken),
            SessionSelector.ByOneofCase.Name => await ByNameOrFailAsync(selector, field, cancellationToken),
            _ => await ByLookupAsync(selector, field, cancellationToken),
        };
    }

    /// <summary>
    /// The selector when one statement resolves it (by session id, Claude session id or launch id), or null when it needs
    /// <see cref="ResolveAsync(SessionSelector?, string, CancellationToken)"/>: a name, a lookup, no selector or a malformed
    /// id (whose error ResolveAsync gives, so that callers keep their order of checks).
    /// </summary>
    public static DirectSessionSelector? Direct(SessionSelector? selector) => selector is null ? null : selector.ByCase switch
    {
        SessionSelector.ByOneofCase.SessionId when Guid.TryParse(selector.SessionId, out var id) => BySessionId(id, selector.SessionId),
        SessionSelector.ByOneofCase.ClaudeSessionId when Guid.TryParse(selector.ClaudeSessionId, out var id) =>
            ByClaudeSessionId(id, selector.ClaudeSessionId),
        SessionSelector.ByOneofCase.LaunchId when selector.LaunchId.Length > 0 && IsClientId(selector.LaunchId) =>
            ByLaunchId(ClientIds.ToGuid("launch", selector.LaunchId), selector.LaunchId),
        _ => null,
    };

    /// <summary>The statement that resolves <paramref name="selector"/>, for a caller's batch; read its rows with SessionSql.</summary>
    public NpgsqlBatchCommand Command(DirectSessionSelector selector) => Build((sql, p) => selector.Where(p(selector.Key)), null).CreateBatchCommand();

    private async Task<SessionRow> ResolveAsync(DirectSessionSelector selector, CancellationToken cancellationToken) =>
        selector.Single(await QueryAsync((sql, p) => selector.Where(p(selector.Key)), null, cancellationToken));

    private static DirectSessionSelector BySessionId(Guid id, string text) => new(id, SessionIdIs, $"no session has the id {text}");

    private static DirectSessionSelector ByClaudeSessionId(Guid id, string text) =>
        new(id, InClaudeLineage, $"no session has the Claude session id {text} in its lineage");

    private static DirectSessionSelector ByLaunchId(Guid id, string text) => new(id, LaunchIdIs, $"no session was launched with the launch id '{text}'");

    /// <summary>The UUID a launch id is stored under (see <see cref="ClientIds"/>).</summary>
    public static Guid LaunchGuid(string launchId, string field)
    {
        if (string.IsNullOrEmpty(launchId))
        {
            throw AdminErrors.InvalidArgument(field, "must not be empty.");
        }

        RequestValidation.ClientId(launchId, field);
        return ClientIds.ToGuid("launch", launchId);
    }

    private static Guid RequireUuid(string value, string field) =>
        Guid.TryParse(value, out var id) ? id : throw AdminErrors.InvalidArgument(field, $"'{Shorten(value)}' is not a UUID.");

    private async Task<SessionRow> ByNameOrFailAsync(SessionSelector selector, string field, CancellationToken cancellationToken)
    {
        RequestValidation.Name(selector.Name, field + ".name");
        if (selector.Name.Length == 0)
        {
            throw AdminErrors.InvalidArgument(field + ".name", "must not be empty.");
        }

        var scope = await ScopeAsync(selector, field, cancellationToken);
        var rows = await ByNameAsync(selector.Name, scope, cancellationToken);
        return rows.Count switch
        {
            1 => rows[0],
            0 => throw AdminErrors.NotFound($"no session is named '{selector.Name}'{ScopeText(scope)}."),
            _ => throw Ambiguous($"the name '{selector.Name}'{ScopeText(scope)}", rows, "add a machine scope or use the session id"),
        };
    }

    private async Task<SessionRow> ByLookupAsync(SessionSelector selector, string field, CancellationToken cancellationToken)
    {
        var text = selector.Lookup.Trim();
        if (text.Length == 0)
        {
            throw AdminErrors.InvalidArgument(field + ".lookup", "must not be empty.");
        }

        RequestValidation.Text(text, field + ".lookup", Persistence.Limits.IdempotencyKey, required: true);
        var scope = await ScopeAsync(selector, field, cancellationToken);

        // The first form that matches exactly one session wins; an ambiguous form is remembered so that, when nothing
        // wins, the error lists its candidates instead of claiming nothing matched.
        (string Form, List<SessionRow> Rows)? ambiguous = null;
        foreach (var (form, rows) in LookupForms(text, scope, cancellationToken))
        {
            var matches = await rows;
            if (matches.Count == 1)
            {
                return matches[0];
            }

            if (matches.Count > 1)
            {
                ambiguous ??= (form, matches);
            }
        }

        if (ambiguous is { } a)
        {
            throw Ambiguous($"'{text}' as {a.Form}{ScopeText(scope)}", a.Rows, "type more characters or use the full id");
        }

        throw AdminErrors.NotFound(
            $"no session matches '{text}'{ScopeText(scope)} as a session id, Claude session id, launch id, id prefix " +
            $"(at least {MinPrefixLength} characters) or name.");
    }

    private IEnumerable<(string Form, Task<List<SessionRow>> Rows)> LookupForms(string text, MachineRef? scope, CancellationToken cancellationToken)
    {
        if (Guid.TryParse(text, out var id))
        {
            yield return ("session id", BySessionIdAsync(id, scope, cancellationToken));
            yield return ("Claude session id", ByClaudeSessionIdAsync(id, scope, cancellationToken));
        }

        if (IsClientId(text))
        {
            yield return ("launch id", ByLaunchIdAsync(ClientIds.ToGuid("launch", text), scope, cancellationToken));
        }

        if (text.Length >= MinPrefixLength && IsIdPrefix(text))
        {
            yield return ("id prefix", ByPrefixAsync(text.ToLowerInvariant(), scope, cancellationToken));
        }

        if (text.Length <= Persistence.Limits.Name)
        {
            yield return ("name", ByNameAsync(text, scope, cancellationToken));
        }
    }

    private static bool IsClientId(string text) =>
        text.Length <= RequestValidation.MaxClientIdLength && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-');

    private static bool IsIdPrefix(string text) => text.All(c => char.IsAsciiHexDigit(c) || c == '-');

    private async Task<MachineRef?> ScopeAsync(SessionSelector selector, string field, CancellationToken cancellationToken) =>
        string.IsNullOrEmpty(selector.Machine) ? null : await machines.ResolveAsync(selector.Machine, field + ".machine", cancellationToken);

    private static string ScopeText(MachineRef? scope) => scope is null ? "" : $" on machine '{scope.Name}'";

    private static Relay.Grpc.RpcException Ambiguous(string what, List<SessionRow> rows, string hint)
    {
        var shown = rows.Take(MaxCandidates).Select(r =>
            $"{r.Id:D} (name '{r.Name ?? ""}', machine '{r.MachineName}', {r.Status.ToString().ToLowerInvariant()})");
        var more = rows.Count > MaxCandidates ? $", and more" : "";
        return AdminErrors.FailedPrecondition(
            $"{what} matches {(rows.Count > MaxCandidates ? $"more than {MaxCandidates}" : rows.Count.ToString(System.Globalization.CultureInfo.InvariantCulture))} sessions; {hint}. Candidates: {string.Join("; ", shown)}{more}.");
    }

    private static string Shorten(string value) => value.Length <= 40 ? value : value[..40] + "…";
}
