using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Relay.Broker.Sessions;

namespace Relay.Broker.Delivery;

internal static class DeliveryFeature
{
    /// <summary>The agent side of prompts, approvals, launches and stops: the per-machine outbox and agents' reports.</summary>
    public static IServiceCollection AddDelivery(this IServiceCollection services)
    {
        services.AddOptions<DeliveryOptions>().BindConfiguration(DeliveryOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DeliveryOptions>, DeliveryOptionsValidator>());
        services.AddSingleton<OutboxFiller>();
        services.AddSingleton<OutboxStore>();
        services.AddSingleton<DeliveryInbound>();
        services.AddSingleton<ISessionEndObserver, SessionEndEffects>();
        return services;
    }
}
