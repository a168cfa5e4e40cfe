using Microsoft.EntityFrameworkCore;

namespace Relay.Broker.Persistence;

internal static class MigrationExtensions
{
    /// <summary>
    /// Applies the committed migrations that the database lacks. Safe with several replicas starting at once: EF Core
    /// serialises migrations through a lock in the database.
    /// </summary>
    public static async Task MigrateAsync(this RelayDbContext db, ILogger logger, CancellationToken cancellationToken = default)
    {
        var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
        if (pending.Count == 0)
        {
            var applied = await db.Database.GetAppliedMigrationsAsync(cancellationToken);
            var latest = applied.LastOrDefault() ?? "none";
            PersistenceLog.MigrationsUpToDate(logger, latest);
            return;
        }

        var names = string.Join(", ", pending);
        PersistenceLog.MigrationsApplying(logger, pending.Count, names);
        await db.Database.MigrateAsync(cancellationToken);
    }

    /// <summary>Applies migrations with the broker's registered <see cref="RelayDbContext"/> (startup and <c>relay-broker migrate</c>).</summary>
    public static async Task MigrateRelayDatabaseAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        var factory = services.GetRequiredService<IDbContextFactory<RelayDbContext>>();
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RelayDbContext).FullName!);
        await using var db = await factory.CreateDbContextAsync(cancellationToken);
        await db.MigrateAsync(logger, cancellationToken);
    }
}
