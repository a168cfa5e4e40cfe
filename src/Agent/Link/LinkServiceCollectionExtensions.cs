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
        // The local side's inbound handler needs IBrokerLink itself (attachments report broker_connected), so the link
        // must not resolve it while it is being constructed: that cycle goes through factories, which the container
        // cannot detect, and it deadlocks the start (the resolver moves deep stacks to another thread).
        services.AddSingleton(provider => ActivatorUtilities.CreateInstance<BrokerLink>(provider, new DeferredInbound(provider)));
        services.AddSingleton<IBrokerLink>(provider => provider.GetRequiredService<BrokerLink>());
        services.AddHostedService(provider => provider.GetRequiredService<BrokerLink>());
        return services;
    }

    /// <summary>Resolves the real <see cref="IBrokerInbound"/> on first use, after every singleton exists.</summary>
    private sealed class DeferredInbound(IServiceProvider provider) : IBrokerInbound
    {
        private IBrokerInbound Inbound => field ??= provider.GetRequiredService<IBrokerInbound>();

        public ValueTask OnWelcomeAsync(Relay.Protocol.V1.Welcome welcome, CancellationToken cancellationToken) => Inbound.OnWelcomeAsync(welcome, cancellationToken);

        public ValueTask HandleSequencedAsync(Relay.Protocol.V1.BrokerMessage message, CancellationToken cancellationToken) => Inbound.HandleSequencedAsync(message, cancellationToken);

        public void HandleState(Relay.Protocol.V1.BrokerMessage message) => Inbound.HandleState(message);

        public Relay.Protocol.V1.AgentStats CollectStats() => Inbound.CollectStats();
    }
}
