namespace Relay.Broker.Launches;

internal static class LaunchesServiceCollectionExtensions
{
    /// <summary>LaunchSession, GetLaunch, StopSession.</summary>
    public static IServiceCollection AddLaunches(this IServiceCollection services)
    {
        services.AddOptions<LaunchOptions>().BindConfiguration(LaunchOptions.SectionName).ValidateDataAnnotations()
            .Validate(o => o.DefaultExpiry <= o.MaxExpiry, "Launches:DefaultExpiry must not be longer than Launches:MaxExpiry.")
            .ValidateOnStart();
        services.AddSingleton<LaunchReader>();
        services.AddSingleton<Launcher>();
        services.AddSingleton<Stopper>();
        return services;
    }
}
