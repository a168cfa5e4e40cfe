namespace Relay.Agent.Spool;

/// <summary>Registers the on-disk spool.</summary>
internal static class SpoolServiceCollectionExtensions
{
    public static IServiceCollection AddAgentSpool(this IServiceCollection services) => services;
}
