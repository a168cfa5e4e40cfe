using Relay.Broker.Access;
using Relay.Broker.Audit;
using Relay.Broker.ServerInfo;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.Admin;

// Tokens, audit log and server info. Roles are enforced before these run (AccessRules); RequireRole repeats the
// documented minimum so each method reads as self-contained.
internal sealed partial class AdminService
{
    public override Task<CreateTokenResponse> CreateToken(CreateTokenRequest request, ServerCallContext context) =>
        Get<TokenService>().CreateAsync(context.RequireRole(Role.Admin), request, context.CancellationToken);

    public override Task<ListTokensResponse> ListTokens(ListTokensRequest request, ServerCallContext context)
    {
        context.RequireRole(Role.Admin);
        return Get<TokenService>().ListAsync(request, context.CancellationToken);
    }

    public override Task<Token> RevokeToken(RevokeTokenRequest request, ServerCallContext context) =>
        Get<TokenService>().RevokeAsync(context.RequireRole(Role.Admin), request, context.CancellationToken);

    public override Task<ListAuditEventsResponse> ListAuditEvents(ListAuditEventsRequest request, ServerCallContext context)
    {
        context.RequireRole(Role.Admin);
        return Get<AuditLog>().ListAsync(request, context.CancellationToken);
    }

    public override Task<GetServerInfoResponse> GetServerInfo(GetServerInfoRequest request, ServerCallContext context) =>
        Get<ServerInfoProvider>().GetAsync(context.RequireRole(Role.Viewer), context.CancellationToken);
}
