using Relay.Broker.Watch.Timeline;

namespace Relay.Broker.Watch;

internal static class WatchServiceCollectionExtensions
{
    /// <summary>The event log's readers and writer, the live feed, and Watch streams.</summary>
    public static IServiceCollection AddWatch(this IServiceCollection services)
    {
        services.AddOptions<WatchOptions>().BindConfiguration(WatchOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<TimelineReader>();
        services.AddSingleton<TimelineWriter>();
        services.AddSingleton<TimelineMapper>();
        services.AddSingleton<MachineReader>();
        services.AddSingleton<CommittedEvents>();
        services.AddSingleton<EventFeed>();
        services.AddHostedService(sp => sp.GetRequiredService<EventFeed>());
        services.AddSingleton<WatchStream>();
        return services;
    }
}
