using System.Threading.RateLimiting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;
using Relay.Broker.Audit;
using Relay.Broker.Validation;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.Access;

/// <summary>
/// Authenticates and authorizes every call before its handler runs (<see cref="AccessRules"/> says what each method
/// needs), and puts the <see cref="Caller"/> into the call's user state. Admin calls need a personal token whose role
/// meets the method's minimum; AgentLink.Connect needs a machine credential; AgentLink.Enroll is anonymous but
/// rate-limited per network address; health and reflection are open. Also turns "database unreachable" failures of
/// any handler into UNAVAILABLE, which clients retry, instead of UNKNOWN.
/// </summary>
internal sealed class AccessInterceptor : ServerInterceptor, IDisposable
{
    private readonly Authenticator _authenticator;
    private readonly AuditLog _audit;
    private readonly ILogger<AccessInterceptor> _logger;
    private readonly int _enrollLimit;
    private readonly PartitionedRateLimiter<string>? _enrollLimiter;

    public AccessInterceptor(Authenticator authenticator, AuditLog audit, IOptions<AccessOptions> options, ILogger<AccessInterceptor> logger)
    {
        _authenticator = authenticator;
        _audit = audit;
        _logger = logger;
        _enrollLimit = options.Value.EnrollAttemptsPerMinute;
        if (_enrollLimit > 0)
        {
            _enrollLimiter = PartitionedRateLimiter.Create<string, string>(address => RateLimitPartition.GetFixedWindowLimiter(
                address,
                _ => new FixedWindowRateLimiterOptions { PermitLimit = _enrollLimit, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));
        }
    }

    public override async Task InterceptAsync(ServerCallContext context, Func<ServerCallContext, Task> continuation)
    {
        var rule = AccessRules.For(context.Method);
        if (rule.Kind == AccessKind.Public)
        {
            await continuation(context);
            return;
        }

        try
        {
            switch (rule.Kind)
            {
                case AccessKind.Enrollment:
                    LimitEnrollment(context);
                    break;
                case AccessKind.Machine:
                    var secret = Bearer(context)
                        ?? throw Missing(context, "AgentLink.Connect needs the machine credential: pass 'authorization: Bearer relay_mc_…'. " +
                                                  "Enrol the machine first with 'relay-agent enroll --token <enrolment token>'.");
                    context.SetCaller(await _authenticator.AuthenticateMachineAsync(secret, context.Peer, context.CancellationToken));
                    break;
                default:
                    context.SetCaller(await AuthorizeUserAsync(context, rule));
                    break;
            }

            await continuation(context);
        }
        catch (Exception ex) when (IsDatabaseUnavailable(ex) && !context.CancellationToken.IsCancellationRequested)
        {
            AccessLog.DatabaseUnavailable(_logger, context.Method, ex);
            throw RpcErrors.Unavailable("The broker's database is unavailable right now; retry shortly.");
        }
    }

    public void Dispose() => _enrollLimiter?.Dispose();

    private async Task<Caller> AuthorizeUserAsync(ServerCallContext context, AccessRule rule)
    {
        var secret = Bearer(context)
            ?? throw Missing(context, "This call needs a personal token: pass 'authorization: Bearer relay_pat_…' (relayctl: --token or RELAY_TOKEN). " +
                                      "The broker writes its first admin token to <data-dir>/admin.token; more come from 'relayctl tokens create'.");
        var caller = await _authenticator.AuthenticateUserAsync(secret, context.Peer, context.CancellationToken);
        if (caller.HasRole(rule.MinimumRole))
        {
            return caller;
        }

        AccessLog.RoleInsufficient(_logger, context.Method, caller.Id, caller.DisplayName, caller.Role, rule.MinimumRole);
        if (rule.AuditAction is { } action)
        {
            // A refused mutation is worth knowing about (a script with the wrong token, or someone probing).
            await _audit.RecordAsync(
                new AuditRecord(caller, action, new AuditTarget(rule.TargetKind ?? string.Empty, string.Empty))
                {
                    Outcome = AuditOutcome.Denied,
                    Details = new { Method = context.Method.TrimStart('/'), RequiredRole = rule.MinimumRole.Name(), Role = caller.Role.Name() },
                },
                context.CancellationToken);
        }

        throw RpcErrors.PermissionDenied(CallerContextExtensions.DeniedMessage(context.Method, caller, rule.MinimumRole));
    }

    private void LimitEnrollment(ServerCallContext context)
    {
        if (_enrollLimiter is null)
        {
            return;
        }

        var address = context.GetHttpContext().Connection.RemoteIpAddress?.ToString() ?? "local";
        using var lease = _enrollLimiter.AttemptAcquire(address);
        if (!lease.IsAcquired)
        {
            AccessLog.EnrollRateLimited(_logger, address, _enrollLimit);
            throw RpcErrors.ResourceExhausted($"Too many enrolment attempts from this address (limit {_enrollLimit} per minute); wait a minute and retry.");
        }
    }

    private RpcException Missing(ServerCallContext context, string message)
    {
        AccessLog.CredentialMissing(_logger, context.Method, context.Peer);
        return RpcErrors.Unauthenticated(message);
    }

    /// <summary>The secret of <c>authorization: Bearer &lt;secret&gt;</c>; null when there is no authorization metadata.</summary>
    private static string? Bearer(ServerCallContext context)
    {
        if (context.RequestHeaders.GetValue("authorization") is not { } value)
        {
            return null;
        }

        const string scheme = "Bearer ";
        var secret = value.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) ? value[scheme.Length..].Trim() : string.Empty;
        return secret.Length > 0
            ? secret
            : throw RpcErrors.Unauthenticated("The authorization metadata must be 'Bearer <token>'.");
    }

    /// <summary>Failures that mean "the database cannot be reached right now", as opposed to a bug or a constraint violation.</summary>
    internal static bool IsDatabaseUnavailable(Exception ex) => ex switch
    {
        PostgresException pg => pg.SqlState is "57P01" or "57P02" or "57P03" or "53300" or "08000" or "08003" or "08006",
        NpgsqlException => true,
        DbUpdateException { InnerException: { } inner } => IsDatabaseUnavailable(inner),
        InvalidOperationException { InnerException: { } inner } => IsDatabaseUnavailable(inner),
        _ => false,
    };
}
