namespace Relay.Broker.Postgres;

/// <summary>
/// Settings of the private PostgreSQL cluster the broker runs when no connection string is configured.
/// </summary>
internal sealed class EmbeddedPostgresOptions
{
    /// <summary>
    /// The broker's data directory. The cluster lives in <c>&lt;DataDirectory&gt;/postgres</c>. Required.
    /// </summary>
    public string DataDirectory { get; set; } = string.Empty;

    /// <summary>The database the broker uses inside the cluster. Default <c>relay</c>.</summary>
    public string DatabaseName { get; set; } = "relay";

    /// <summary>
    /// A directory holding <c>initdb</c>, <c>pg_ctl</c> and <c>postgres</c>. Default: none, which searches PATH
    /// and then <c>/usr/lib/postgresql/&lt;version&gt;/bin</c> (highest version first).
    /// </summary>
    public string? BinDirectory { get; set; }

    /// <summary>
    /// The OS account that runs the server when the broker runs as root (PostgreSQL refuses to run as root).
    /// Default <c>postgres</c>, the account Debian's package creates.
    /// </summary>
    public string ServiceAccount { get; set; } = "postgres";

    /// <summary>How long initialising (first start) plus starting the server may take. Default 2 minutes.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long a fast shutdown may take before the server is stopped immediately. Default 30 seconds.</summary>
    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The default data directory: <c>/var/lib/relay</c> for root (the <c>postgres</c> account must be able to
    /// reach it, which rules out <c>/root</c>), else <c>$XDG_DATA_HOME/relay</c> (<c>~/.local/share/relay</c>).
    /// </summary>
    public static string DefaultDataDirectory() =>
        UnixAccount.IsRoot()
            ? "/var/lib/relay"
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "relay");
}
