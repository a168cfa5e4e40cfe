using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Npgsql;
using Relay.Broker.Persistence.Ingest;
using Relay.Broker.Postgres;

namespace Relay.Broker.Persistence;

internal static class PersistenceServiceCollectionExtensions
{
    /// <summary>
    /// Registers the database: options (section <c>Database</c>, validated at start), the embedded cluster, the shared
    /// <see cref="RelayDatabase"/>, <see cref="RelayDbContext"/> (through <see cref="IDbContextFactory{TContext}"/>),
    /// the event ingest writer, and the hosted services that start and migrate the database and prune old events.
    /// Call it before registering other hosted services so the database is up before they start and down after they stop.
    /// </summary>
    public static IServiceCollection AddRelayPersistence(this IServiceCollection services)
    {
        services.AddOptions<DatabaseOptions>().BindConfiguration(DatabaseOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DatabaseOptions>, DatabaseOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);

        services.AddSingleton(sp => new EmbeddedPostgres(
            sp.GetRequiredService<IOptions<DatabaseOptions>>().Value.Embedded,
            sp.GetRequiredService<ILogger<EmbeddedPostgres>>(),
            sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<RelayDatabase>();
        // Owned (and disposed) by RelayDatabase; resolved on first use, after the database has started.
        services.AddSingleton(sp => sp.GetRequiredService<RelayDatabase>().DataSource);

        // Options are built on first use, after DatabaseStartupService has started the embedded cluster. Pooled: a context
        // per operation is the broker's habit (several per prompt), and building one from scratch resolved a dozen
        // services each time (about a tenth of the broker's CPU on the prompt path). A returned context is reset,
        // including Database.AutoSavepointsEnabled, which lock-holding writers turn off.
        services.AddPooledDbContextFactory<RelayDbContext>((sp, builder) =>
            builder.UseRelayNpgsql(sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<PreparedStatementRepair>()));
        services.AddSingleton(sp => new PreparedStatementRepair(sp.GetRequiredService<ILogger<PreparedStatementRepair>>()));

        services.AddSingleton<EventIngestWriter>();
        services.AddSingleton<EventRetentionJob>();
        services.AddHostedService<DatabaseStartupService>();
        services.AddHostedService<EventRetentionService>();
        return services;
    }

    /// <summary>The provider settings every <see cref="RelayDbContext"/> uses (the broker, tests, design time).</summary>
    /// <param name="builder">The options to set.</param>
    /// <param name="dataSource">The pool.</param>
    /// <param name="repair">Repairs connections whose statements failed (see <see cref="PreparedStatementRepair"/>); its logger says when it cannot.</param>
    public static DbContextOptionsBuilder UseRelayNpgsql(this DbContextOptionsBuilder builder, NpgsqlDataSource dataSource, PreparedStatementRepair repair) =>
        builder.UseNpgsql(dataSource, npgsql => npgsql.MigrationsHistoryTable("__ef_migrations_history")).AddInterceptors(OfflineGuard.Instance, repair);

    /// <summary>The provider settings every <see cref="RelayDbContext"/> uses, for design time.</summary>
    public static DbContextOptionsBuilder UseRelayNpgsql(this DbContextOptionsBuilder builder, string connectionString) =>
        builder.UseNpgsql(connectionString, npgsql => npgsql.MigrationsHistoryTable("__ef_migrations_history")).AddInterceptors(OfflineGuard.Instance, PreparedStatementRepair.Silent);
}
