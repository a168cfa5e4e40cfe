namespace Relay.Agent.Local;

/// <summary>Registers the local side: session tracking, prompts, approvals, the Unix socket and the http hooks.</summary>
internal static class LocalServiceCollectionExtensions
{
    public static IServiceCollection AddLocalAgent(this IServiceCollection services) => services;
}
