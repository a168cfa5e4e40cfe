namespace Relay.Broker.Postgres;

/// <summary>The embedded PostgreSQL cluster could not be initialised, started or stopped.</summary>
internal sealed class EmbeddedPostgresException : Exception
{
    public EmbeddedPostgresException()
    {
    }

    public EmbeddedPostgresException(string message)
        : base(message)
    {
    }

    public EmbeddedPostgresException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
