namespace Relay.Broker.Postgres;

/// <summary>A directory holding the PostgreSQL server programs the embedded cluster needs.</summary>
internal sealed record PostgresBinaries(string BinDirectory)
{
    public string InitDb => Path.Combine(BinDirectory, "initdb");

    public string PgCtl => Path.Combine(BinDirectory, "pg_ctl");

    public string Postgres => Path.Combine(BinDirectory, "postgres");
}
