using Microsoft.Extensions.Options;

namespace Relay.Agent.Launch;

/// <summary>Registers the tmux launcher.</summary>
internal static class LaunchServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="ISessionLauncher"/> (<see cref="TmuxLauncher"/>) with <see cref="LauncherOptions"/> bound to
    /// <c>Agent:Launcher</c> and validated when the host starts.
    /// </summary>
    public static IServiceCollection AddSessionLauncher(this IServiceCollection services)
    {
        services.AddOptions<LauncherOptions>().BindConfiguration(LauncherOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<LauncherOptions>, LauncherOptionsValidator>();
        services.AddSingleton<ISessionLauncher, TmuxLauncher>();
        return services;
    }
}
