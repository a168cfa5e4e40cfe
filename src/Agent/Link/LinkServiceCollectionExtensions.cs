using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Relay.Agent.Link;

/// <summary>Registers the broker link.</summary>
internal static class LinkServiceCollectionExtensions
{
    /// <summary>
    /// <see cref="BrokerLink"/> as <see cref="IBrokerLink"/> and as a hosted service, with <see cref="BrokerLinkOptions"/>
    /// bound from <c>Agent:Link</c> and validated at start. Needs the spool (<c>AddAgentSpool</c>), the configuration
    /// store and an <see cref="IBrokerInbound"/> (the local side registers it).
    /// </summary>
    public static IServiceCollection AddBrokerLink(this IServiceCollection services)
    {
        services.AddOptions<BrokerLinkOptions>().BindConfiguration(BrokerLinkOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BrokerLinkOptions>, BrokerLinkOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<BrokerLink>();
        services.AddSingleton<IBrokerLink>(provider => provider.GetRequiredService<BrokerLink>());
        services.AddHostedService(provider => provider.GetRequiredService<BrokerLink>());
        return services;
    }
}
