using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Relay.Broker.Audit;
using Relay.Broker.Briefings;
using Relay.Broker.Machines;
using Relay.Broker.Policy;
using Relay.Broker.ServerInfo;
using Relay.Grpc;

namespace Relay.Broker.Access;

internal static class AccessServiceCollectionExtensions
{
    /// <summary>
    /// Access, identity and configuration: the authenticating interceptor (added to every gRPC call), personal tokens
    /// and the first-start admin token, machine enrolment and the machine directory, the audit log, the messaging
    /// policy, standing briefings and server info.
    /// </summary>
    public static IServiceCollection AddBrokerAccess(this IServiceCollection services)
    {
        services.AddOptions<AccessOptions>().BindConfiguration(AccessOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AccessOptions>, AccessOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);

        services.AddSingleton<RevocationRegistry>();
        services.AddSingleton<TokenMetadataStore>();
        services.AddSingleton<Authenticator>();
        services.AddSingleton<AccessInterceptor>();
        services.Configure<GrpcServiceOptions>(o => o.Interceptors.Insert(0, typeof(AccessInterceptor)));
        services.AddSingleton<TokenService>();
        services.AddHostedService<AdminTokenBootstrap>();

        services.AddSingleton<AuditLog>();
        services.AddSingleton<PolicyStore>();
        services.AddSingleton<PolicyEvaluator>();
        services.AddSingleton<BriefingStore>();
        services.AddSingleton<MachineDirectory>();
        services.AddSingleton<EnrollmentService>();
        services.TryAddSingleton<BrokerReplica>();
        services.TryAddSingleton<Queries.Sessions.SessionReader>();
        services.AddSingleton<ServerInfoProvider>();
        return services;
    }
}
