using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Relay.Broker.Queries;

/// <summary>
/// Opaque page tokens: base64url JSON of a small position record plus a fingerprint of the request's filters, so a
/// token replayed with other filters is refused instead of silently paging through a different list.
/// </summary>
internal static class PageTokens
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static string Encode<T>(T position) => Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(position, Json));

    /// <summary>The position in <paramref name="token"/>, or null for an empty token (first page).</summary>
    public static T? Decode<T>(string token, string fingerprint, Func<T, string> fingerprintOf, string field = "page_token")
        where T : class
    {
        if (string.IsNullOrEmpty(token))
        {
            return null;
        }

        T? position;
        try
        {
            position = JsonSerializer.Deserialize<T>(Base64Url.DecodeFromChars(token), Json);
        }
        catch (Exception ex) when (ex is FormatException or JsonException or NotSupportedException)
        {
            throw AdminErrors.InvalidArgument(field, "is not a token this server issued; pass next_page_token from the previous response unchanged.");
        }

        if (position is null || fingerprintOf(position) != fingerprint)
        {
            throw AdminErrors.InvalidArgument(field, "belongs to a request with other filters; repeat the filters of the first page, or start again without page_token.");
        }

        return position;
    }

    /// <summary>A short, stable digest of the request fields that must not change between pages.</summary>
    public static string Fingerprint(params object?[] parts)
    {
        var text = string.Join("\u001f", parts.Select(p => p switch
        {
            null => "",
            System.Collections.IEnumerable e and not string => string.Join(",", e.Cast<object?>()),
            _ => Convert.ToString(p, System.Globalization.CultureInfo.InvariantCulture),
        }));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)).AsSpan(0, 8));
    }
}
