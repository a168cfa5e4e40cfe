namespace Relay.Grpc.Internal;

/// <summary>Base64 for <c>-bin</c> metadata: sent unpadded, accepted padded or not, comma-joined values split.</summary>
internal static class BinaryHeader
{
    public static string Encode(byte[] value) => Convert.ToBase64String(value).TrimEnd('=');

    /// <summary>Decodes one header value, which may hold several comma-joined values.</summary>
    public static IEnumerable<byte[]> Decode(string value)
    {
        foreach (var part in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            yield return DecodeOne(part);
        }
    }

    private static byte[] DecodeOne(string part)
    {
        var padded = (part.Length % 4) switch
        {
            2 => part + "==",
            3 => part + "=",
            _ => part,
        };
        try
        {
            return Convert.FromBase64String(padded);
        }
        catch (FormatException ex)
        {
            throw new FormatException($"Binary metadata value '{part}' is not valid base64.", ex);
        }
    }
}
