using System.Buffers;
using Microsoft.Extensions.Options;

namespace Relay.Broker.Postgres;

/// <summary>Checks <see cref="EmbeddedPostgresOptions"/> and says how to fix what is wrong.</summary>
internal sealed class EmbeddedPostgresOptionsValidator : IValidateOptions<EmbeddedPostgresOptions>
{
    // pg_ctl hands the data and log paths to /bin/sh inside double quotes; these characters would be interpreted.
    private static readonly SearchValues<char> ShellSensitive = SearchValues.Create("\"$`\\\n\r\0");

    public ValidateOptionsResult Validate(string? name, EmbeddedPostgresOptions options)
    {
        var failures = Collect(options).ToList();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    internal static IEnumerable<string> Collect(EmbeddedPostgresOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.DataDirectory))
        {
            yield return "Embedded PostgreSQL needs a data directory: pass --data-dir <dir> (or set a database connection string).";
        }
        else if (options.DataDirectory.IndexOfAny(ShellSensitive) >= 0)
        {
            yield return $"The data directory '{options.DataDirectory}' contains a character pg_ctl cannot quote (\" $ ` \\ or a line break): choose another path.";
        }

        if (string.IsNullOrWhiteSpace(options.DatabaseName) || options.DatabaseName.Length > 63)
        {
            yield return "Embedded PostgreSQL database name must be 1 to 63 characters.";
        }

        if (string.IsNullOrWhiteSpace(options.ServiceAccount))
        {
            yield return "Embedded PostgreSQL service account must name an OS user (default 'postgres').";
        }

        if (options.StartTimeout <= TimeSpan.Zero || options.StartTimeout > TimeSpan.FromHours(1))
        {
            yield return $"Embedded PostgreSQL StartTimeout must be between 0 and 1 hour (got {options.StartTimeout}).";
        }

        if (options.StopTimeout <= TimeSpan.Zero || options.StopTimeout > TimeSpan.FromHours(1))
        {
            yield return $"Embedded PostgreSQL StopTimeout must be between 0 and 1 hour (got {options.StopTimeout}).";
        }
    }
}
