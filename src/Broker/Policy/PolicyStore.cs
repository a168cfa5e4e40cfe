using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Relay.Broker.Access;
using Relay.Broker.Audit;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Validation;
using PolicyMessage = Relay.Protocol.V1.Policy;

namespace Relay.Broker.Policy;

/// <summary>
/// The messaging policy in the <c>policy</c> table: one row whose jsonb value is the contract's Policy message (rules,
/// etag, who changed it). SetPolicy replaces it whole, optionally only if the etag still matches (optimistic concurrency).
/// </summary>
internal sealed class PolicyStore(IDbContextFactory<RelayDbContext> databases, AuditLog audit, TimeProvider time)
{
    /// <summary>The row's key.</summary>
    public const string Key = "messaging";

    /// <summary>The etag of a policy that was never set.</summary>
    public const string InitialEtag = "0";

    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default);
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    /// <summary>Raised after a change committed here, so evaluators reload at once.</summary>
    public event Action? Changed;

    public async Task<PolicyMessage> GetAsync(CancellationToken cancellationToken = default)
    {
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        var row = await db.Policy.AsNoTracking().FirstOrDefaultAsync(p => p.Key == Key, cancellationToken);
        return ToMessage(row);
    }

    public async Task<PolicyMessage> SetAsync(Caller caller, PolicyMessage? policy, string? expectedEtag, CancellationToken cancellationToken = default)
    {
        if (policy is null)
        {
            throw RpcErrors.InvalidArgument("policy is required; send a policy with no rules to return to the built-in defaults.");
        }

        PolicyRules.Validate(policy);
        var expected = string.IsNullOrEmpty(expectedEtag) ? null : expectedEtag;

        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var row = await db.Policy.FromSql($"SELECT * FROM policy WHERE key = {Key} FOR UPDATE").FirstOrDefaultAsync(cancellationToken);
        var current = ToMessage(row);
        if (expected is not null && expected != current.Etag)
        {
            throw Conflict(current.Etag);
        }

        var now = time.GetUtcNowForStorage();
        var stored = new PolicyMessage
        {
            Etag = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8)),
            UpdatedBy = caller.ToPrincipal(),
        };
        stored.Rules.AddRange(policy.Rules);
        var json = Formatter.Format(stored);
        if (row is null)
        {
            db.Policy.Add(new PolicyEntry { Key = Key, Value = json, UpdatedBy = caller.AuditActor, UpdatedAt = now });
        }
        else
        {
            row.Value = json;
            row.UpdatedBy = caller.AuditActor;
            row.UpdatedAt = now;
        }

        audit.Add(db, caller, AuditActions.PolicySet, AuditTarget.Policy, new { Rules = policy.Rules.Count, PreviousEtag = current.Etag, stored.Etag });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            // Two first-ever SetPolicy calls raced to insert the row; this one lost.
            throw Conflict("(changed concurrently)");
        }

        Changed?.Invoke();
        stored.UpdatedAt = Timestamp.FromDateTimeOffset(now);
        return stored;
    }

    private static PolicyMessage ToMessage(PolicyEntry? row)
    {
        if (row is null)
        {
            return new PolicyMessage { Etag = InitialEtag };
        }

        var policy = Parser.Parse<PolicyMessage>(row.Value);
        policy.UpdatedAt = Timestamp.FromDateTimeOffset(row.UpdatedAt);
        return policy;
    }

    private static Grpc.RpcException Conflict(string currentEtag) => RpcErrors.FailedPrecondition(
        $"The policy changed since it was read (its etag is now {currentEtag}); read it again (relayctl policy show) and reapply the change.");
}
