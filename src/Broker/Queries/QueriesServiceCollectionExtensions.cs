using Microsoft.Extensions.DependencyInjection.Extensions;
using Relay.Broker.Queries.History;
using Relay.Broker.Queries.Search;
using Relay.Broker.Queries.Selectors;
using Relay.Broker.Queries.Sessions;

namespace Relay.Broker.Queries;

internal static class QueriesServiceCollectionExtensions
{
    /// <summary>Session reads for Admin: selectors, list, get, rename, history, search.</summary>
    public static IServiceCollection AddSessionQueries(this IServiceCollection services)
    {
        services.AddOptions<QueriesOptions>().BindConfiguration(QueriesOptions.SectionName).ValidateDataAnnotations()
            .Validate(o => o.DefaultPageSize <= o.MaxPageSize, "Queries:DefaultPageSize must not be larger than Queries:MaxPageSize.")
            .ValidateOnStart();
        services.AddSingleton<MachineResolver>();
        services.AddSingleton<SessionSelectorResolver>();
        services.TryAddSingleton<SessionReader>(); // also used by Machines (registered there too)
        services.AddSingleton<SessionListQuery>();
        services.AddSingleton<SessionDetailsQuery>();
        services.AddSingleton<SessionRenamer>();
        services.AddSingleton<HistoryQuery>();
        services.AddSingleton<SearchQuery>();
        services.AddSingleton<SearchHitLoader>();
        return services;
    }
}
