namespace Relay.Broker.Persistence;

// EventIds 1200-1299: persistence.
internal static partial class PersistenceLog
{
    [LoggerMessage(EventId = 1200, EventName = "MigrationsApplying", Level = LogLevel.Information,
        Message = "Applying {Count} database migration(s): {Migrations}")]
    public static partial void MigrationsApplying(ILogger logger, int count, string migrations);

    [LoggerMessage(EventId = 1201, EventName = "MigrationsUpToDate", Level = LogLevel.Information,
        Message = "Database schema is up to date ({Migration})")]
    public static partial void MigrationsUpToDate(ILogger logger, string migration);

    [LoggerMessage(EventId = 1202, EventName = "RetentionDeleted", Level = LogLevel.Information,
        Message = "Retention removed {Count} event(s) received before {Cutoff}")]
    public static partial void RetentionDeleted(ILogger logger, long count, DateTimeOffset cutoff);

    [LoggerMessage(EventId = 1203, EventName = "RetentionFailed", Level = LogLevel.Error,
        Message = "Event retention failed; it will run again in {Interval}")]
    public static partial void RetentionFailed(ILogger logger, Exception exception, TimeSpan interval);

    [LoggerMessage(EventId = 1204, EventName = "DatabaseStarting", Level = LogLevel.Information,
        Message = "Using {Kind} PostgreSQL")]
    public static partial void DatabaseStarting(ILogger logger, string kind);

    [LoggerMessage(EventId = 1205, EventName = "PreparedStatementsNotRepaired", Level = LogLevel.Warning,
        Message = "A connection whose statement failed could not forget its prepared statements; the connection pool is cleared instead")]
    public static partial void PreparedStatementsNotRepaired(ILogger logger, Exception exception);
}
