using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Relay.Broker.Delivery;
using Relay.Broker.Sessions;

namespace Relay.Broker.AgentLink;

internal static class AgentLinkFeature
{
    /// <summary>
    /// The agents' stream (AgentLink.Connect) with what it feeds: session reconciliation (Sessions/) and delivery of
    /// prompts, verdicts, launches and stops (Delivery/).
    /// </summary>
    public static IServiceCollection AddAgentLink(this IServiceCollection services)
    {
        services.AddOptions<AgentLinkOptions>().BindConfiguration(AgentLinkOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AgentLinkOptions>, AgentLinkOptionsValidator>());
        services.AddSessions();
        services.AddDelivery();
        services.TryAddSingleton<IAgentIdentity, AgentIdentity>();
        services.AddSingleton<AgentConnectionRegistry>();
        services.AddSingleton<AgentConnectionServices>();
        services.AddSingleton<LinkStateStore>();
        services.AddSingleton<InboundProcessor>();
        services.AddSingleton<IngestGate>();
        services.AddSingleton<InboundBudget>();
        services.AddSingleton<LiveStreamFill>();
        services.AddHostedService<PresenceStartupService>();
        services.AddSingleton<PresenceSweeper>();
        services.AddHostedService(sp => sp.GetRequiredService<PresenceSweeper>());
        return services;
    }
}
