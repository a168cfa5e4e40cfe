using Relay.Protocol.Local;

namespace Relay.Agent.Hooks;

/// <summary>Registers the hook path: the processor, the http endpoint's secret and the drop-file replayer.</summary>
internal static class HookServiceCollectionExtensions
{
    /// <summary>
    /// Adds the hook path. Needs <see cref="Spool.IAgentSpool"/>, <see cref="Sessions.ISessionTracker"/> and
    /// <see cref="IHookResponder"/> from the other features; map the endpoint with <see cref="HookEndpoint.MapHookEndpoint"/>.
    /// </summary>
    public static IServiceCollection AddAgentHooks(this IServiceCollection services)
    {
        services.AddOptions<HookOptions>()
            .BindConfiguration(HookOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddHttpContextAccessor();
        services.AddSingleton<HookSecret>();
        services.AddSingleton<HookProcessor>();
        services.AddSingleton<IHookProcessor>(sp => sp.GetRequiredService<HookProcessor>());
        services.AddSingleton(new HookDropLocation(LocalAgentPaths.HookDropDirectory()));
        services.AddSingleton<HookDropReplayer>();
        services.AddHostedService(sp => sp.GetRequiredService<HookDropReplayer>());
        return services;
    }
}
