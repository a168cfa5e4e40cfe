using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;
using Relay.Broker.Access;
using Relay.Broker.Audit;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.ServerInfo;
using Relay.Broker.Signals;
using Relay.Broker.Validation;
using Relay.Protocol.V1;
using MachineRow = Relay.Broker.Persistence.Entities.Machine;

namespace Relay.Broker.Machines;

/// <summary>
/// Machine enrolment: an admin creates a one-time enrolment token (Admin.CreateEnrollment); an agent exchanges it for
/// a new machine and a long-lived machine credential (AgentLink.Enroll). Both secrets are stored only as hashes.
/// </summary>
internal sealed class EnrollmentService(
    IDbContextFactory<RelayDbContext> databases,
    AuditLog audit,
    Authenticator authenticator,
    BrokerSignals signals,
    BrokerReplica replica,
    IOptions<AccessOptions> options,
    TimeProvider time,
    ILogger<EnrollmentService> logger)
{
    private const string RefusedTokenMessage = "Ask an admin for a new enrolment token (relayctl machines enroll <name>).";

    public async Task<CreateEnrollmentResponse> CreateAsync(Caller caller, CreateEnrollmentRequest request, CancellationToken cancellationToken)
    {
        var name = MachineNames.Optional(request.MachineName, "machine_name");
        var note = Require.OptionalText(request.Note, "note", Limits.Reason);
        var lifetime = EnrollmentLifetime(request.ExpiresIn);
        var now = time.GetUtcNowForStorage();

        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        if (name is not null)
        {
            await LockNameAsync(db, name, cancellationToken);
            await EnsureNameFreeAsync(db, name, exceptEnrollment: null, now, cancellationToken);
        }

        var secret = Secrets.NewEnrollmentToken();
        var enrollment = new EnrolmentToken
        {
            Id = Guid.NewGuid(),
            MachineName = name,
            TokenHash = TokenHash.Compute(secret),
            CreatedBy = caller.AuditActor,
            CreatedAt = now,
            ExpiresAt = now + lifetime,
        };
        db.EnrolmentTokens.Add(enrollment);
        audit.Add(db, caller, AuditActions.EnrollmentCreate, AuditTarget.Enrollment(enrollment.Id), new
        {
            MachineName = name,
            ExpiresAt = enrollment.ExpiresAt.ToString("O", CultureInfo.InvariantCulture),
            Note = note,
        });
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        MachineLog.EnrollmentCreated(logger, enrollment.Id, caller.AuditActor, name ?? "(chosen by the agent)", enrollment.ExpiresAt);

        return new CreateEnrollmentResponse
        {
            EnrollmentId = enrollment.Id.ToString(),
            Token = secret,
            ExpiresAt = Timestamp.FromDateTimeOffset(enrollment.ExpiresAt),
            MachineName = name ?? string.Empty,
        };
    }

    /// <summary>
    /// AgentLink.Enroll. The enrolment row is locked for the exchange, so two agents racing with one token cannot both
    /// win. A retry with the same request_id while the token is still valid replaces the credential of the first
    /// attempt (whose answer the agent never got) instead of being refused.
    /// </summary>
    public async Task<EnrollResponse> EnrollAsync(EnrollRequest request, string? remoteAddress, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.EnrollmentToken) || request.EnrollmentToken.Length > Secrets.MaxLength)
        {
            throw Refuse(remoteAddress, "enrollment_token is required: the relay_enr_… token from 'relayctl machines enroll'.", invalidArgument: true);
        }

        var requestId = Require.OptionalClientId(request.RequestId, "request_id");
        var wantedName = MachineNames.Optional(request.MachineName, "machine_name");
        var hostname = Require.OptionalName(request.Hostname, "hostname", Limits.Name);
        var os = Require.OptionalName(request.Os, "os", Limits.EnumText);
        var agentVersion = Require.OptionalName(request.AgentVersion, "agent_version", Limits.Name);
        var hash = TokenHash.Compute(request.EnrollmentToken.Trim());
        var now = time.GetUtcNowForStorage();

        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var enrollment = await db.EnrolmentTokens.FromSql($"SELECT * FROM enrolment_tokens WHERE token_hash = {hash} FOR UPDATE")
            .FirstOrDefaultAsync(cancellationToken)
            ?? throw Refuse(remoteAddress, "The enrolment token is not valid (unknown or mistyped). " + RefusedTokenMessage);
        if (enrollment.RevokedAt is not null)
        {
            throw Refuse(remoteAddress, "The enrolment token was revoked. " + RefusedTokenMessage);
        }

        if (enrollment.ExpiresAt <= now)
        {
            throw Refuse(remoteAddress, $"The enrolment token expired at {enrollment.ExpiresAt.ToString("u", CultureInfo.InvariantCulture)}. " + RefusedTokenMessage);
        }

        if (enrollment.UsedAt is not null)
        {
            return await RetryAsync(db, transaction, enrollment, requestId, remoteAddress, cancellationToken);
        }

        var name = wantedName ?? enrollment.MachineName ?? MachineNames.Optional(hostname, "hostname")
            ?? throw RpcErrors.InvalidArgument("machine_name is required: this enrolment token reserves no name and no hostname was sent (relay-agent enroll --name <name>).");
        await LockNameAsync(db, name, cancellationToken);
        await EnsureNameFreeAsync(db, name, exceptEnrollment: enrollment.Id, now, cancellationToken);

        var machine = new MachineRow { Id = Guid.NewGuid(), Name = name, CreatedAt = now, Hostname = hostname, Os = os, AgentVersion = agentVersion };
        db.Machines.Add(machine);
        var credential = NewCredential(db, machine.Id, now);
        enrollment.UsedAt = now;
        enrollment.MachineId = machine.Id;
        var actor = Caller.ForMachine(machine.Id, machine.Name, remoteAddress, CancellationToken.None);
        audit.Add(db, actor, AuditActions.MachineEnroll, AuditTarget.Machine(machine.Id), new
        {
            EnrollmentId = enrollment.Id,
            RequestId = requestId,
            Hostname = hostname,
            Os = os,
            AgentVersion = agentVersion,
        });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            throw NameTaken(name);
        }

        signals.Publish(BrokerSignals.Machine(machine.Id.ToString()));
        MachineLog.Enrolled(logger, machine.Id, machine.Name, enrollment.Id, remoteAddress ?? string.Empty);
        return Response(machine, credential.Secret);
    }

    private async Task<EnrollResponse> RetryAsync(
        RelayDbContext db,
        Microsoft.EntityFrameworkCore.Storage.IDbContextTransaction transaction,
        EnrolmentToken enrollment,
        string? requestId,
        string? remoteAddress,
        CancellationToken cancellationToken)
    {
        var spent = $"The enrolment token was already used at {enrollment.UsedAt!.Value.ToString("u", CultureInfo.InvariantCulture)}. " + RefusedTokenMessage;
        if (requestId is null || enrollment.MachineId is not { } machineId)
        {
            throw Refuse(remoteAddress, spent);
        }

        var target = AuditTarget.Machine(machineId).Stored;
        var first = await db.AuditLog.AsNoTracking()
            .Where(a => a.Action == AuditActions.MachineEnroll && a.Target == target)
            .OrderBy(a => a.Id)
            .FirstOrDefaultAsync(cancellationToken);
        var machine = await db.Machines.FirstOrDefaultAsync(m => m.Id == machineId, cancellationToken);
        if (first is null || machine is null || machine.RevokedAt is not null
            || AuditLog.Data(first)?["request_id"]?.GetValue<string>() != requestId)
        {
            throw Refuse(remoteAddress, spent);
        }

        var now = time.GetUtcNowForStorage();
        var replaced = await db.MachineCredentials.Where(c => c.MachineId == machineId && c.RevokedAt == null).Select(c => c.Id).ToListAsync(cancellationToken);
        await db.MachineCredentials.Where(c => c.MachineId == machineId && c.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(c => c.RevokedAt, now), cancellationToken);
        var credential = NewCredential(db, machineId, now);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        foreach (var id in replaced)
        {
            authenticator.Invalidate(id);
        }

        MachineLog.EnrollmentRetried(logger, enrollment.Id, machineId);
        return Response(machine, credential.Secret);
    }

    private static (MachineCredential Row, string Secret) NewCredential(RelayDbContext db, Guid machineId, DateTimeOffset now)
    {
        var secret = Secrets.NewMachineCredential();
        var row = new MachineCredential { Id = Guid.NewGuid(), MachineId = machineId, TokenHash = TokenHash.Compute(secret), CreatedAt = now };
        db.MachineCredentials.Add(row);
        return (row, secret);
    }

    private EnrollResponse Response(MachineRow machine, string credential) => new()
    {
        MachineId = machine.Id.ToString(),
        MachineName = machine.Name,
        Credential = credential,
        EnrolledAt = Timestamp.FromDateTimeOffset(machine.CreatedAt),
        BrokerVersion = replica.Version,
    };

    private TimeSpan EnrollmentLifetime(Duration? requested)
    {
        var max = options.Value.MaxEnrollmentTokenLifetime;
        // Generous upper bound for parsing; anything beyond the configured maximum is capped, as the contract says.
        var lifetime = Require.OptionalDuration(requested, "expires_in", TimeSpan.FromDays(36500)) ?? options.Value.EnrollmentTokenLifetime;
        return lifetime > max ? max : lifetime;
    }

    /// <summary>
    /// A machine name must be unused by machines (revoked ones included: names stay unique) and not reserved by
    /// another enrolment token that can still be redeemed.
    /// </summary>
    private static async Task EnsureNameFreeAsync(RelayDbContext db, string name, Guid? exceptEnrollment, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (await db.Machines.AnyAsync(m => m.Name == name, cancellationToken))
        {
            throw NameTaken(name);
        }

        if (await db.EnrolmentTokens.AnyAsync(
                t => t.MachineName == name && t.Id != exceptEnrollment && t.UsedAt == null && t.RevokedAt == null && t.ExpiresAt > now,
                cancellationToken))
        {
            throw RpcErrors.AlreadyExists($"The machine name '{name}' is reserved by another enrolment token that is still valid; choose another name.");
        }
    }

    /// <summary>Serialises checks of one name, so two enrolments cannot both find it free.</summary>
    private static Task<int> LockNameAsync(RelayDbContext db, string name, CancellationToken cancellationToken) =>
        db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock(hashtextextended({"machine-name:" + name}, 0))", cancellationToken);

    private static Grpc.RpcException NameTaken(string name) =>
        RpcErrors.AlreadyExists($"A machine named '{name}' already exists; choose another name (relay-agent enroll --name <name>).");

    private Grpc.RpcException Refuse(string? remoteAddress, string reason, bool invalidArgument = false)
    {
        MachineLog.EnrollmentRefused(logger, remoteAddress ?? string.Empty, reason);
        return invalidArgument ? RpcErrors.InvalidArgument(reason) : RpcErrors.Unauthenticated(reason);
    }
}
