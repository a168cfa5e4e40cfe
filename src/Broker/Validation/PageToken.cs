using System.Buffers.Text;
using System.Text;

namespace Relay.Broker.Validation;

/// <summary>
/// Paging (common.proto): page_size 0 means the default and is capped; page tokens are opaque to clients. Tokens here
/// are a keyset position (the sort key of the last row returned) in base64url, so a page never skips or repeats rows
/// because rows were added in between.
/// </summary>
internal static class PageToken
{
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 500;

    /// <summary>The effective page size: the default for 0, capped at <see cref="MaxPageSize"/>; negative is INVALID_ARGUMENT.</summary>
    public static int Size(int requested)
    {
        if (requested < 0)
        {
            throw RpcErrors.InvalidArgument($"page_size must not be negative; use 0 for the default ({DefaultPageSize}) or up to {MaxPageSize}.");
        }

        return requested == 0 ? DefaultPageSize : Math.Min(requested, MaxPageSize);
    }

    /// <summary>Encodes a keyset position.</summary>
    public static string Encode(string position) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(position));

    /// <summary>Decodes a page token; null for the first page; INVALID_ARGUMENT for a token this broker did not issue.</summary>
    public static string? Decode(string? token)
    {
        if (string.IsNullOrEmpty(token))
        {
            return null;
        }

        try
        {
            if (token.Length <= 1024)
            {
                return Encoding.UTF8.GetString(Base64Url.DecodeFromChars(token));
            }
        }
        catch (FormatException)
        {
            // Reported below.
        }

        throw RpcErrors.InvalidArgument("page_token is not a token from a previous response; omit it to start at the first page.");
    }

    /// <summary>Decodes a position of the form <c>&lt;ticks&gt;/&lt;guid&gt;</c>.</summary>
    public static (DateTimeOffset At, Guid Id)? DecodeTimeAndId(string? token)
    {
        if (Decode(token) is not { } position)
        {
            return null;
        }

        var slash = position.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0
            && long.TryParse(position.AsSpan(0, slash), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ticks)
            && ticks <= DateTimeOffset.MaxValue.UtcTicks
            && Guid.TryParse(position.AsSpan(slash + 1), out var id))
        {
            return (new DateTimeOffset(ticks, TimeSpan.Zero), id);
        }

        throw RpcErrors.InvalidArgument("page_token is not a token from a previous response; omit it to start at the first page.");
    }

    /// <summary>Encodes a position of the form <c>&lt;ticks&gt;/&lt;guid&gt;</c>.</summary>
    public static string EncodeTimeAndId(DateTimeOffset at, Guid id) =>
        Encode(at.UtcTicks.ToString(System.Globalization.CultureInfo.InvariantCulture) + "/" + id.ToString("D"));
}
