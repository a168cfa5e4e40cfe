using System.Security.Cryptography;
using System.Text;

namespace Relay.Broker.Queries;

/// <summary>
/// The schema keys prompts and launches by UUID, while clients may choose any id of [A-Za-z0-9._:-]. A client id that is
/// a UUID is used as is (the recommended form, and the one that round-trips); any other id maps to a name-based UUID
/// (SHA-256, version 8) derived from its scope and text, so a retry with the same id lands on the same row.
/// </summary>
internal static class ClientIds
{
    public static Guid ToGuid(string scope, string clientId)
    {
        if (Guid.TryParse(clientId, out var id))
        {
            return id;
        }

        return NameBased(scope + "\n" + clientId);
    }

    /// <summary>A stable UUID for a name: the same name always gives the same id.</summary>
    public static Guid NameBased(string name)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes("relay.v1/" + name), hash);
        var bytes = hash[..16];
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x80); // version 8: custom (RFC 9562)
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 4122 variant
        return new Guid(bytes, bigEndian: true);
    }
}
