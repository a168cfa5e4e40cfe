using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Relay.Broker.Audit;
using Relay.Broker.Persistence;

namespace Relay.Broker.Access;

/// <summary>What a personal token has beyond its api_tokens row: the visible part of its secret and its expiry.</summary>
internal sealed record TokenMetadata(string SecretPrefix, DateTimeOffset? ExpiresAt)
{
    public static readonly TokenMetadata None = new(string.Empty, null);

    /// <summary>The token.create audit details that carry the metadata (and say what was granted).</summary>
    public static object AuditDetails(string name, string role, string secretPrefix, DateTimeOffset? expiresAt) => new
    {
        Name = name,
        Role = role,
        SecretPrefix = secretPrefix,
        ExpiresAt = expiresAt?.ToString("O", CultureInfo.InvariantCulture),
    };
}

/// <summary>
/// Reads <see cref="TokenMetadata"/>. The api_tokens table has no columns for a token's expiry or secret prefix, so
/// they are kept in the token's <c>token.create</c> audit entry, written in the same transaction as the token. They
/// never change, so each token's metadata is read once per process.
/// </summary>
internal sealed class TokenMetadataStore(IDbContextFactory<RelayDbContext> databases)
{
    private const int MaxRemembered = 100_000;
    private readonly ConcurrentDictionary<Guid, TokenMetadata> _known = new();

    /// <summary>The metadata of token <paramref name="tokenId"/>; <see cref="TokenMetadata.None"/> when none was recorded.</summary>
    public async ValueTask<TokenMetadata> GetAsync(Guid tokenId, CancellationToken cancellationToken)
    {
        if (_known.TryGetValue(tokenId, out var known))
        {
            return known;
        }

        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        return (await GetManyAsync(db, [tokenId], cancellationToken))[tokenId];
    }

    /// <summary>The metadata of each of <paramref name="tokenIds"/>.</summary>
    public async Task<IReadOnlyDictionary<Guid, TokenMetadata>> GetManyAsync(RelayDbContext db, IReadOnlyCollection<Guid> tokenIds, CancellationToken cancellationToken)
    {
        var result = new Dictionary<Guid, TokenMetadata>();
        var missing = new List<string>();
        foreach (var id in tokenIds)
        {
            if (_known.TryGetValue(id, out var known))
            {
                result[id] = known;
            }
            else
            {
                missing.Add(AuditTarget.Token(id).Stored);
            }
        }

        if (missing.Count > 0)
        {
            var entries = await db.AuditLog.AsNoTracking()
                .Where(a => a.Action == AuditActions.TokenCreate && a.Target != null && missing.Contains(a.Target))
                .ToListAsync(cancellationToken);
            foreach (var id in tokenIds.Where(id => !result.ContainsKey(id)))
            {
                var entry = entries.FirstOrDefault(e => e.Target == AuditTarget.Token(id).Stored);
                var metadata = entry is null ? TokenMetadata.None : Parse(AuditLog.Data(entry));
                Remember(id, metadata);
                result[id] = metadata;
            }
        }

        return result;
    }

    /// <summary>Remembers the metadata of a token just created, so its first use needs no lookup.</summary>
    public void Remember(Guid tokenId, TokenMetadata metadata)
    {
        if (_known.Count >= MaxRemembered)
        {
            _known.Clear();
        }

        _known[tokenId] = metadata;
    }

    private static TokenMetadata Parse(System.Text.Json.Nodes.JsonObject? data)
    {
        var prefix = data?["secret_prefix"]?.GetValue<string>() ?? string.Empty;
        var expires = data?["expires_at"]?.GetValue<string>() is { } text
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var at)
                ? at
                : (DateTimeOffset?)null;
        return new TokenMetadata(prefix, expires);
    }
}
