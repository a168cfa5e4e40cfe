using System.Globalization;
using Relay.Broker.Queries;

namespace Relay.Broker.Watch.Timeline;

/// <summary>
/// The opaque cursor of the event log: the events.id of the last entry a reader has (ids are assigned in commit order
/// under the event-order lock, so "after id N" never skips a later commit). Clients never parse it; the prefix keeps it
/// from looking like a number they could do arithmetic on.
/// </summary>
internal static class EventCursor
{
    private const string Prefix = "ev";

    public static string Format(long position) => Prefix + position.ToString(CultureInfo.InvariantCulture);

    /// <summary>The position in <paramref name="cursor"/>; INVALID_ARGUMENT naming <paramref name="field"/> otherwise.</summary>
    public static long Parse(string cursor, string field)
    {
        if (cursor.StartsWith(Prefix, StringComparison.Ordinal)
            && long.TryParse(cursor.AsSpan(Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var position))
        {
            return position;
        }

        throw AdminErrors.InvalidArgument(field, $"'{(cursor.Length > 40 ? cursor[..40] + "…" : cursor)}' is not a cursor; pass a cursor, head_cursor or checkpoint cursor this server returned.");
    }
}
