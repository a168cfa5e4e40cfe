namespace Relay.Agent.Link;

/// <summary>Registers the broker link.</summary>
internal static class LinkServiceCollectionExtensions
{
    public static IServiceCollection AddBrokerLink(this IServiceCollection services) => services;
}
