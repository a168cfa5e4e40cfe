using Google.Protobuf.WellKnownTypes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Relay.Broker.Audit;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Validation;
using Relay.Protocol.V1;

namespace Relay.Broker.Access;

/// <summary>Personal tokens: create (the secret is returned once and stored only as its hash), list, revoke.</summary>
internal sealed class TokenService(
    IDbContextFactory<RelayDbContext> databases,
    TokenMetadataStore metadata,
    Authenticator authenticator,
    RevocationRegistry revocations,
    AuditLog audit,
    IOptions<AccessOptions> options,
    TimeProvider time,
    ILogger<TokenService> logger)
{
    // Token creation and revocation serialise on this advisory lock, so "name unique among valid tokens" and "never
    // revoke the last admin token" hold with concurrent calls and several replicas.
    private const long TokensLock = 0x52656c6179_01;

    public async Task<CreateTokenResponse> CreateAsync(Caller creator, CreateTokenRequest request, CancellationToken cancellationToken)
    {
        var name = Require.Name(request.Name, "name");
        var role = Require.DefinedEnum(request.Role, "role");
        if (role == Role.Unspecified)
        {
            throw RpcErrors.InvalidArgument("role is required: ROLE_VIEWER, ROLE_OPERATOR or ROLE_ADMIN.");
        }

        var lifetime = Require.OptionalDuration(request.ExpiresIn, "expires_in", options.Value.MaxTokenLifetime);
        var now = time.GetUtcNowForStorage();

        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await LockAsync(db, cancellationToken);

        var sameName = await db.ApiTokens.AsNoTracking().Where(t => t.Name == name && t.RevokedAt == null).Select(t => t.Id).ToListAsync(cancellationToken);
        if (sameName.Count > 0)
        {
            var expiries = await metadata.GetManyAsync(db, sameName, cancellationToken);
            if (expiries.Values.Any(m => m.ExpiresAt is null || m.ExpiresAt > now))
            {
                throw RpcErrors.AlreadyExists($"A valid token is already named '{name}'; choose another name or revoke that token first.");
            }
        }

        var (token, secret) = await AddAsync(db, creator, name, role, lifetime is { } span ? now + span : null, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        AccessLog.TokenCreated(logger, token.Id, name, role, creator.AuditActor);

        var response = new CreateTokenResponse { Secret = secret };
        response.Token = (await ToProtoAsync(db, [token], cancellationToken))[0];
        return response;
    }

    /// <summary>
    /// Creates a token inside <paramref name="db"/>'s transaction (with its token.create audit entry, which also keeps the
    /// token's expiry and visible prefix) and returns it with its secret. The caller commits.
    /// </summary>
    internal async Task<(ApiToken Token, string Secret)> AddAsync(
        RelayDbContext db, Caller creator, string name, Role role, DateTimeOffset? expiresAt, CancellationToken cancellationToken)
    {
        var secret = Secrets.NewPersonalToken();
        var token = new ApiToken
        {
            Id = Guid.NewGuid(),
            Name = name,
            Role = role.ToTokenRole(),
            TokenHash = TokenHash.Compute(secret),
            CreatedBy = creator.AuditActor,
            CreatedAt = time.GetUtcNowForStorage(),
        };
        db.ApiTokens.Add(token);
        var prefix = Secrets.VisiblePrefix(secret);
        audit.Add(db, creator, AuditActions.TokenCreate, AuditTarget.Token(token.Id), TokenMetadata.AuditDetails(name, role.Name(), prefix, expiresAt));
        await db.SaveChangesAsync(cancellationToken);
        metadata.Remember(token.Id, new TokenMetadata(prefix, expiresAt));
        return (token, secret);
    }

    public async Task<ListTokensResponse> ListAsync(ListTokensRequest request, CancellationToken cancellationToken)
    {
        var pageSize = PageToken.Size(request.PageSize);
        var after = PageToken.DecodeTimeAndId(request.PageToken);
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        var query = db.ApiTokens.AsNoTracking();
        if (!request.IncludeRevoked)
        {
            query = query.Where(t => t.RevokedAt == null);
        }

        if (after is { } position)
        {
            query = query.Where(t => t.CreatedAt < position.At || (t.CreatedAt == position.At && t.Id.CompareTo(position.Id) < 0));
        }

        var rows = await query.OrderByDescending(t => t.CreatedAt).ThenByDescending(t => t.Id).Take(pageSize + 1).ToListAsync(cancellationToken);
        var page = rows.Take(pageSize).ToList();
        var tokens = await ToProtoAsync(db, page, cancellationToken);
        var now = time.GetUtcNowForStorage();
        var response = new ListTokensResponse();
        // Expired tokens are left out like revoked ones; the page may then be short, which paging allows.
        response.Tokens.AddRange(request.IncludeRevoked ? tokens : tokens.Where(t => t.ExpiresAt is null || t.ExpiresAt.ToDateTimeOffset() > now));
        if (rows.Count > pageSize)
        {
            response.NextPageToken = PageToken.EncodeTimeAndId(page[^1].CreatedAt, page[^1].Id);
        }

        return response;
    }

    public async Task<Token> RevokeAsync(Caller caller, RevokeTokenRequest request, CancellationToken cancellationToken)
    {
        var id = Require.Id(request.TokenId, "token_id", "the token_id shown by ListTokens");
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await LockAsync(db, cancellationToken);
        var token = await db.ApiTokens.FirstOrDefaultAsync(t => t.Id == id, cancellationToken)
            ?? throw RpcErrors.NotFound($"No token has id {id} (relayctl tokens list --include-revoked shows them).");
        if (token.RevokedAt is null)
        {
            if (token.Role == TokenRole.Admin && await IsLastValidAdminAsync(db, token.Id, cancellationToken))
            {
                throw RpcErrors.FailedPrecondition(
                    $"Token '{token.Name}' is the last valid admin token; create another admin token first, so the broker stays manageable.");
            }

            token.RevokedAt = time.GetUtcNowForStorage();
            audit.Add(db, caller, AuditActions.TokenRevoke, AuditTarget.Token(token.Id), new { token.Name, Role = token.Role.ToRole().Name() });
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);

            // At once in this replica: new calls are refused and open streams of the token end.
            authenticator.Invalidate(token.Id);
            revocations.Revoke(token.Id);
            AccessLog.TokenRevoked(logger, token.Id, token.Name, caller.AuditActor);
        }

        return (await ToProtoAsync(db, [token], cancellationToken))[0];
    }

    private async Task<bool> IsLastValidAdminAsync(RelayDbContext db, Guid tokenId, CancellationToken cancellationToken)
    {
        var others = await db.ApiTokens.AsNoTracking()
            .Where(t => t.Role == TokenRole.Admin && t.RevokedAt == null && t.Id != tokenId)
            .Select(t => t.Id)
            .ToListAsync(cancellationToken);
        if (others.Count == 0)
        {
            return true;
        }

        var now = time.GetUtcNowForStorage();
        var meta = await metadata.GetManyAsync(db, others, cancellationToken);
        return !meta.Values.Any(m => m.ExpiresAt is null || m.ExpiresAt > now);
    }

    /// <summary>The contract's view of <paramref name="tokens"/>: metadata, and who created and revoked them (from the audit log).</summary>
    private async Task<List<Token>> ToProtoAsync(RelayDbContext db, IReadOnlyList<ApiToken> tokens, CancellationToken cancellationToken)
    {
        var ids = tokens.Select(t => t.Id).ToList();
        var meta = await metadata.GetManyAsync(db, ids, cancellationToken);
        var targets = ids.Select(id => AuditTarget.Token(id).Stored).ToList();
        var events = await db.AuditLog.AsNoTracking()
            .Where(a => (a.Action == AuditActions.TokenCreate || a.Action == AuditActions.TokenRevoke) && a.Target != null && targets.Contains(a.Target))
            .OrderBy(a => a.Id)
            .ToListAsync(cancellationToken);

        return tokens.Select(t =>
        {
            var target = AuditTarget.Token(t.Id).Stored;
            var created = events.FirstOrDefault(e => e.Target == target && e.Action == AuditActions.TokenCreate);
            var revoked = events.LastOrDefault(e => e.Target == target && e.Action == AuditActions.TokenRevoke);
            var token = new Token
            {
                TokenId = t.Id.ToString(),
                Name = t.Name,
                Role = t.Role.ToRole(),
                SecretPrefix = meta[t.Id].SecretPrefix,
                CreatedAt = Timestamp.FromDateTimeOffset(t.CreatedAt),
                CreatedBy = created is null ? AuditLog.ActorPrincipal(t.CreatedBy) : AuditLog.ToEvent(created).Actor,
            };
            if (meta[t.Id].ExpiresAt is { } expires)
            {
                token.ExpiresAt = Timestamp.FromDateTimeOffset(expires);
            }

            if (t.LastUsedAt is { } used)
            {
                token.LastUsedAt = Timestamp.FromDateTimeOffset(used);
            }

            if (t.RevokedAt is { } revokedAt)
            {
                token.RevokedAt = Timestamp.FromDateTimeOffset(revokedAt);
                token.RevokedBy = revoked is null ? new Principal() : AuditLog.ToEvent(revoked).Actor;
            }

            return token;
        }).ToList();
    }

    internal static Task LockAsync(RelayDbContext db, CancellationToken cancellationToken) =>
        db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({TokensLock})", cancellationToken);
}
