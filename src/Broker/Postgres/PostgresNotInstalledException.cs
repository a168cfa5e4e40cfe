namespace Relay.Broker.Postgres;

/// <summary>The PostgreSQL server binaries needed for the embedded cluster are not on this machine.</summary>
internal sealed class PostgresNotInstalledException : Exception
{
    public PostgresNotInstalledException()
    {
    }

    public PostgresNotInstalledException(string message)
        : base(message)
    {
    }

    public PostgresNotInstalledException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
