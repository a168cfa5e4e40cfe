using Relay.Broker.Queries.Sessions;

namespace Relay.Broker.Queries.Selectors;

/// <summary>
/// A selector one statement resolves: by session id, Claude session id or launch id (a machine scope applies only to
/// names and lookups). A caller may send that statement (<see cref="SessionSelectorResolver.Command"/>) in one round trip
/// with other reads about the same session, which select it with <see cref="Where"/>.
/// </summary>
/// <param name="Key">The id the selector names, as stored.</param>
/// <param name="Where">The condition on <c>sessions s</c> that selects the session, given the key's placeholder.</param>
/// <param name="NotFound">What NOT_FOUND says when no session, or several, match.</param>
internal sealed record DirectSessionSelector(Guid Key, Func<string, string> Where, string NotFound)
{
    /// <summary>The session, from the statement's rows: NOT_FOUND unless exactly one matched (as ResolveAsync answers).</summary>
    public SessionRow Single(IReadOnlyList<SessionRow> rows) =>
        rows.Count == 1 ? rows[0] : throw AdminErrors.NotFound(NotFound + ".");
}
