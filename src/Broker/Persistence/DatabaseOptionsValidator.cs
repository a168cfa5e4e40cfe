using Microsoft.Extensions.Options;
using Npgsql;
using Relay.Broker.Postgres;

namespace Relay.Broker.Persistence;

/// <summary>Checks <see cref="DatabaseOptions"/> at start and says how to fix what is wrong.</summary>
internal sealed class DatabaseOptionsValidator : IValidateOptions<DatabaseOptions>
{
    public ValidateOptionsResult Validate(string? name, DatabaseOptions options)
    {
        var failures = new List<string>();
        if (options.UsesEmbeddedServer)
        {
            failures.AddRange(EmbeddedPostgresOptionsValidator.Collect(options.Embedded));
        }
        else
        {
            try
            {
                _ = new NpgsqlConnectionStringBuilder(options.ConnectionString);
            }
            catch (ArgumentException ex)
            {
                failures.Add($"Database:ConnectionString is not a valid PostgreSQL connection string ({ex.Message}); " +
                    "expected e.g. 'Host=db;Database=relay;Username=relay;Password=...'.");
            }
        }

        if (options.CommandTimeout < TimeSpan.FromSeconds(1) || options.CommandTimeout > TimeSpan.FromHours(1))
        {
            failures.Add($"Database:CommandTimeout must be between 1 second and 1 hour (got {options.CommandTimeout}).");
        }

        if (options.EventRetention is { } retention && retention < TimeSpan.FromHours(1))
        {
            failures.Add($"Database:EventRetention must be at least 1 hour, or unset to keep events forever (got {retention}).");
        }

        if (options.RetentionInterval < TimeSpan.FromSeconds(1))
        {
            failures.Add($"Database:RetentionInterval must be at least 1 second (got {options.RetentionInterval}).");
        }

        if (options.RetentionBatchSize is < 1 or > 100_000)
        {
            failures.Add($"Database:RetentionBatchSize must be between 1 and 100000 (got {options.RetentionBatchSize}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
