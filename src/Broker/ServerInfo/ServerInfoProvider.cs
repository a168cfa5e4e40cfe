using Google.Protobuf.WellKnownTypes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Relay.Broker.Access;
using Relay.Broker.Persistence;
using Relay.Grpc;
using Relay.Protocol.V1;
using SessionStatus = Relay.Broker.Persistence.Entities.SessionStatus;

namespace Relay.Broker.ServerInfo;

/// <summary>GetServerInfo: version, replica, the caller as authenticated, database mode, limits, and two live counts.</summary>
internal sealed class ServerInfoProvider(
    IDbContextFactory<RelayDbContext> databases,
    RelayDatabase database,
    BrokerReplica replica,
    IOptions<GrpcServiceOptions> grpc,
    TimeProvider time)
{
    public async Task<GetServerInfoResponse> GetAsync(Caller caller, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        var online = await db.AgentLinkStates.AsNoTracking()
            .Where(s => s.LeaseHolder != null && s.LeaseExpiresAt > now)
            .Join(db.Machines.Where(m => m.RevokedAt == null), s => s.MachineId, m => m.Id, (s, m) => s.MachineId)
            .CountAsync(cancellationToken);
        var live = await db.Sessions.AsNoTracking().CountAsync(s => s.Status != SessionStatus.Ended, cancellationToken);

        return new GetServerInfoResponse
        {
            Version = replica.Version,
            Replica = replica.Id,
            StartedAt = Timestamp.FromDateTimeOffset(replica.StartedAt),
            ServerTime = Timestamp.FromDateTimeOffset(now),
            Caller = caller.ToPrincipal(),
            CallerRole = caller.Role,
            DatabaseMode = database.IsEmbedded ? "embedded" : "external",
            MachinesOnline = (uint)online,
            LiveSessions = (uint)live,
            Limits = new ServerLimits
            {
                MaxMessageBytes = (uint)(grpc.Value.MaxReceiveMessageSize ?? int.MaxValue),
                MaxPromptChars = BrokerLimits.MaxPromptChars,
                MaxBriefingChars = BrokerLimits.MaxBriefingChars,
                MaxPageSize = BrokerLimits.MaxPageSize,
                DefaultPromptTtl = Duration.FromTimeSpan(BrokerLimits.DefaultPromptTtl),
            },
        };
    }
}
