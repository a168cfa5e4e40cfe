using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Relay.Broker.Persistence;

/// <summary>
/// Secrets (API tokens, machine credentials, enrolment tokens) are random, shown once, and stored only as their
/// SHA-256. A fast hash is right here: the tokens carry 256 bits of entropy, so there is nothing to brute-force.
/// </summary>
internal static class TokenHash
{
    private const int TokenBytes = 32;

    /// <summary>A new token: <paramref name="prefix"/> (e.g. <c>relay_pat_</c>) plus 32 random bytes in base64url.</summary>
    public static string NewToken(string prefix) =>
        prefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(TokenBytes));

    /// <summary>The 32-byte SHA-256 of the token's UTF-8 bytes: what the database stores and looks up.</summary>
    public static byte[] Compute(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// <summary>Compares a presented token with a stored hash in constant time.</summary>
    public static bool Matches(string token, ReadOnlySpan<byte> storedHash) =>
        CryptographicOperations.FixedTimeEquals(Compute(token), storedHash);
}
