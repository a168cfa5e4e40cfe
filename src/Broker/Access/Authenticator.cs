using System.Collections.Concurrent;
using System.Data.Common;
using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Relay.Broker.Persistence;
using Relay.Broker.Validation;
using Relay.Protocol.V1;

namespace Relay.Broker.Access;

/// <summary>
/// Turns a bearer secret into a <see cref="Caller"/>: personal tokens for Admin, machine credentials for AgentLink.
/// Lookups (including refusals, so a wrong token cannot hammer the database) are cached for
/// <see cref="AccessOptions.CacheDuration"/> in a bounded map keyed by the secret's SHA-256; revocations through this
/// replica drop their entries at once. last_used_at is written at most once per <see cref="AccessOptions.LastUsedInterval"/>.
/// </summary>
internal sealed partial class Authenticator(
    IDbContextFactory<RelayDbContext> databases,
    TokenMetadataStore metadata,
    RevocationRegistry revocations,
    IOptionsMonitor<AccessOptions> options,
    TimeProvider time,
    ILogger<Authenticator> logger)
{
    private readonly ConcurrentDictionary<(bool Machine, string Hash), Entry> _cache = new();
    private readonly ConcurrentDictionary<Guid, DateTimeOffset> _lastUsedWritten = new();

    /// <summary>The user holding personal token <paramref name="secret"/>; UNAUTHENTICATED with a reason otherwise.</summary>
    public async ValueTask<Caller> AuthenticateUserAsync(string secret, string? remoteAddress, CancellationToken cancellationToken)
    {
        var entry = await LookupAsync(machine: false, secret, cancellationToken);
        var refusal = entry.Refusal ?? (entry.ExpiresAt is { } expires && expires <= time.GetUtcNow()
            ? $"Token '{entry.Name}' expired at {expires.ToString("u", CultureInfo.InvariantCulture)}; ask an admin for a new one (relayctl tokens create)."
            : null);
        if (refusal is not null)
        {
            AccessLog.Refused(logger, "personal token", remoteAddress ?? string.Empty, refusal);
            throw RpcErrors.Unauthenticated(refusal);
        }

        await TouchAsync(machine: false, entry.CredentialId, cancellationToken);
        return Caller.ForUser(entry.CredentialId, entry.Name, entry.Role, remoteAddress, revocations.TokenFor(entry.CredentialId));
    }

    /// <summary>The machine whose credential is <paramref name="secret"/>; UNAUTHENTICATED with a reason otherwise.</summary>
    public async ValueTask<Caller> AuthenticateMachineAsync(string secret, string? remoteAddress, CancellationToken cancellationToken)
    {
        var entry = await LookupAsync(machine: true, secret, cancellationToken);
        if (entry.Refusal is { } refusal)
        {
            AccessLog.Refused(logger, "machine credential", remoteAddress ?? string.Empty, refusal);
            throw RpcErrors.Unauthenticated(refusal);
        }

        await TouchAsync(machine: true, entry.CredentialId, cancellationToken);
        var machineId = entry.MachineId!.Value;
        return Caller.ForMachine(machineId, entry.Name, remoteAddress, revocations.TokenFor(machineId));
    }

    /// <summary>Forgets every cached lookup of token, credential or machine <paramref name="id"/> (after a revocation).</summary>
    public void Invalidate(Guid id)
    {
        foreach (var (key, entry) in _cache)
        {
            if (entry.CredentialId == id || entry.MachineId == id)
            {
                _cache.TryRemove(key, out _);
            }
        }
    }

    private async ValueTask<Entry> LookupAsync(bool machine, string secret, CancellationToken cancellationToken)
    {
        if (secret.Length > Secrets.MaxLength)
        {
            return new Entry { Refusal = "The bearer token is too long to be a Relay credential; check the authorization metadata." };
        }

        var hash = TokenHash.Compute(secret);
        var key = (machine, Convert.ToBase64String(hash));
        var now = time.GetUtcNow();
        if (_cache.TryGetValue(key, out var cached) && cached.CachedUntil > now)
        {
            return cached;
        }

        var entry = machine ? await LoadMachineAsync(secret, hash, cancellationToken) : await LoadUserAsync(secret, hash, cancellationToken);
        entry = entry with { CachedUntil = now + options.CurrentValue.CacheDuration };
        if (_cache.Count >= options.CurrentValue.CacheCapacity)
        {
            Trim(now);
        }

        _cache[key] = entry;
        return entry;
    }

    private async Task<Entry> LoadUserAsync(string secret, byte[] hash, CancellationToken cancellationToken)
    {
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        var token = await db.ApiTokens.AsNoTracking()
            .Where(t => t.TokenHash == hash)
            .Select(t => new { t.Id, t.Name, t.Role, t.RevokedAt })
            .FirstOrDefaultAsync(cancellationToken);
        if (token is null)
        {
            return new Entry
            {
                Refusal = secret.StartsWith(Secrets.MachineCredentialPrefix, StringComparison.Ordinal)
                    ? "This is a machine credential (relay_mc_…); Admin calls need a personal token (relay_pat_…) from 'relayctl tokens create'."
                    : secret.StartsWith(Secrets.EnrollmentTokenPrefix, StringComparison.Ordinal)
                        ? "This is an enrolment token (relay_enr_…); redeem it with 'relay-agent enroll'. Admin calls need a personal token (relay_pat_…)."
                        : "The token is not valid (unknown, mistyped or deleted). Use a personal token from 'relayctl tokens create', " +
                          "or the broker's first admin token in <data-dir>/admin.token.",
            };
        }

        if (token.RevokedAt is { } revokedAt)
        {
            return new Entry
            {
                CredentialId = token.Id,
                Name = token.Name,
                Refusal = $"Token '{token.Name}' was revoked at {revokedAt.ToString("u", CultureInfo.InvariantCulture)}; ask an admin for a new one (relayctl tokens create).",
            };
        }

        var meta = await metadata.GetAsync(token.Id, cancellationToken);
        return new Entry { CredentialId = token.Id, Name = token.Name, Role = token.Role.ToRole(), ExpiresAt = meta.ExpiresAt };
    }

    private async Task<Entry> LoadMachineAsync(string secret, byte[] hash, CancellationToken cancellationToken)
    {
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        var credential = await db.MachineCredentials.AsNoTracking()
            .Where(c => c.TokenHash == hash)
            .Join(db.Machines, c => c.MachineId, m => m.Id, (c, m) => new { c.Id, c.MachineId, c.RevokedAt, m.Name, MachineRevokedAt = m.RevokedAt })
            .FirstOrDefaultAsync(cancellationToken);
        if (credential is null)
        {
            return new Entry
            {
                Refusal = secret.StartsWith(Secrets.PersonalTokenPrefix, StringComparison.Ordinal)
                    ? "This is a personal token (relay_pat_…); AgentLink.Connect needs the machine credential relay-agent received when it enrolled."
                    : "The machine credential is not valid (unknown or replaced); enrol the machine again with 'relay-agent enroll'.",
            };
        }

        var refusal = credential.MachineRevokedAt is { } machineRevoked
            ? $"Machine '{credential.Name}' was revoked at {machineRevoked.ToString("u", CultureInfo.InvariantCulture)}; enrol it again with a new enrolment token (relayctl machines enroll)."
            : credential.RevokedAt is not null
                ? $"This credential of machine '{credential.Name}' was revoked or replaced; enrol the machine again with 'relay-agent enroll'."
                : null;
        return new Entry { CredentialId = credential.Id, MachineId = credential.MachineId, Name = credential.Name, Refusal = refusal };
    }

    private async ValueTask TouchAsync(bool machine, Guid credentialId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var interval = options.CurrentValue.LastUsedInterval;
        if (_lastUsedWritten.TryGetValue(credentialId, out var last) && now - last < interval)
        {
            return;
        }

        // Two calls racing here may both write; that is one extra cheap UPDATE, not worth a lock.
        _lastUsedWritten[credentialId] = now;
        var stale = now - interval;
        try
        {
            await using var db = await databases.CreateDbContextAsync(cancellationToken);
            if (machine)
            {
                await db.MachineCredentials
                    .Where(c => c.Id == credentialId && (c.LastUsedAt == null || c.LastUsedAt < stale))
                    .ExecuteUpdateAsync(s => s.SetProperty(c => c.LastUsedAt, now), cancellationToken);
            }
            else
            {
                await db.ApiTokens
                    .Where(t => t.Id == credentialId && (t.LastUsedAt == null || t.LastUsedAt < stale))
                    .ExecuteUpdateAsync(s => s.SetProperty(t => t.LastUsedAt, now), cancellationToken);
            }
        }
        catch (DbException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Bookkeeping only: a failed write must not fail the call it rides on.
            AccessLog.LastUsedWriteFailed(logger, ex);
        }
    }

    private void Trim(DateTimeOffset now)
    {
        foreach (var (key, entry) in _cache)
        {
            if (entry.CachedUntil <= now)
            {
                _cache.TryRemove(key, out _);
            }
        }

        if (_cache.Count >= options.CurrentValue.CacheCapacity)
        {
            // Still full of live entries (a flood of distinct secrets): start over rather than grow.
            _cache.Clear();
        }
    }

    private sealed record Entry
    {
        public Guid CredentialId { get; init; }

        public Guid? MachineId { get; init; }

        public string Name { get; init; } = string.Empty;

        public Role Role { get; init; }

        public DateTimeOffset? ExpiresAt { get; init; }

        /// <summary>Why the secret is refused; null when it is valid.</summary>
        public string? Refusal { get; init; }

        public DateTimeOffset CachedUntil { get; init; }
    }
}
