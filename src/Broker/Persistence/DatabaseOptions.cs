using Relay.Broker.Postgres;

namespace Relay.Broker.Persistence;

/// <summary>Where the broker's data lives. Bound from the <c>Database</c> configuration section.</summary>
internal sealed class DatabaseOptions
{
    public const string SectionName = "Database";

    /// <summary>
    /// An Npgsql connection string (<c>--database</c>). Default: none, which runs the embedded cluster described by
    /// <see cref="Embedded"/>.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>Apply pending migrations when the broker starts. Default true; <c>relay-broker migrate</c> does it alone.</summary>
    public bool MigrateOnStart { get; set; } = true;

    /// <summary>How long one SQL command may run. Default 30 seconds.</summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The embedded cluster, used when <see cref="ConnectionString"/> is empty.</summary>
    public EmbeddedPostgresOptions Embedded { get; set; } = new() { DataDirectory = EmbeddedPostgresOptions.DefaultDataDirectory() };

    /// <summary>How long events are kept. Default: none (kept forever). Prompts, replies and audit are never pruned.</summary>
    public TimeSpan? EventRetention { get; set; }

    /// <summary>How often the retention job runs. Default 1 hour.</summary>
    public TimeSpan RetentionInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Rows deleted per statement by the retention job, to keep locks and WAL bursts short. Default 5000.</summary>
    public int RetentionBatchSize { get; set; } = 5000;

    public bool UsesEmbeddedServer => string.IsNullOrWhiteSpace(ConnectionString);
}
