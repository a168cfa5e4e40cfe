namespace Relay.Agent.Launch;

/// <summary>Registers the tmux launcher.</summary>
internal static class LaunchServiceCollectionExtensions
{
    public static IServiceCollection AddSessionLauncher(this IServiceCollection services) => services;
}
