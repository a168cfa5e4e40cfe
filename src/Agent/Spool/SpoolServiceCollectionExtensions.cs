using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Relay.Agent.Spool;

/// <summary>Registers the on-disk spool.</summary>
internal static class SpoolServiceCollectionExtensions
{
    /// <summary>
    /// <see cref="DiskSpool"/> as <see cref="IAgentSpool"/>, with <see cref="SpoolOptions"/> bound from <c>Agent:Spool</c>
    /// and validated at start. The spool opens (and recovers) when first resolved.
    /// </summary>
    public static IServiceCollection AddAgentSpool(this IServiceCollection services)
    {
        services.AddOptions<SpoolOptions>().BindConfiguration(SpoolOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SpoolOptions>, SpoolOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<DiskSpool>();
        services.AddSingleton<IAgentSpool>(provider => provider.GetRequiredService<DiskSpool>());
        return services;
    }
}
