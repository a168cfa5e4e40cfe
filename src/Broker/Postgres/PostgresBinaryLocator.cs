namespace Relay.Broker.Postgres;

/// <summary>
/// Finds <c>initdb</c>, <c>pg_ctl</c> and <c>postgres</c>: in an explicit directory when one is configured, else in
/// the install directory of the cluster's own major version, else on PATH, else in the highest
/// <c>&lt;installRoot&gt;/&lt;version&gt;/bin</c> (Debian and Ubuntu install there and not on PATH).
/// </summary>
internal sealed class PostgresBinaryLocator(string? searchPath, string installRoot)
{
    internal const string DebianInstallRoot = "/usr/lib/postgresql";

    private static readonly string[] Required = ["initdb", "pg_ctl", "postgres"];

    /// <summary>Searches the process's PATH and <c>/usr/lib/postgresql</c>.</summary>
    public static PostgresBinaryLocator Default { get; } =
        new(Environment.GetEnvironmentVariable("PATH"), DebianInstallRoot);

    /// <param name="binDirectory">A configured directory; when set, only it is considered.</param>
    /// <param name="preferredMajorVersion">The major version an existing cluster was created with (its PG_VERSION).</param>
    public PostgresBinaries Locate(string? binDirectory = null, string? preferredMajorVersion = null)
    {
        if (!string.IsNullOrWhiteSpace(binDirectory))
        {
            return HasAll(binDirectory)
                ? new PostgresBinaries(Path.GetFullPath(binDirectory))
                : throw new PostgresNotInstalledException(
                    $"The configured PostgreSQL bin directory '{binDirectory}' does not contain {MissingIn(binDirectory)}. " +
                    InstallAdvice);
        }

        if (preferredMajorVersion is not null)
        {
            var own = Path.Combine(installRoot, preferredMajorVersion, "bin");
            if (HasAll(own))
            {
                return new PostgresBinaries(own);
            }
        }

        foreach (var directory in (searchPath ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            if (HasAll(directory))
            {
                return new PostgresBinaries(Path.GetFullPath(directory));
            }
        }

        foreach (var directory in InstalledVersionsNewestFirst())
        {
            if (HasAll(directory))
            {
                return new PostgresBinaries(directory);
            }
        }

        throw new PostgresNotInstalledException(
            $"PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH or under {installRoot}/<version>/bin. " +
            InstallAdvice);
    }

    private const string InstallAdvice =
        "The broker needs them to run its embedded database: install PostgreSQL (Debian/Ubuntu: 'apt-get install postgresql'; " +
        "Fedora/RHEL: 'dnf install postgresql-server'), set Database:Embedded:BinDirectory to their directory, " +
        "or give the broker an existing server with --database <connection string>.";

    private IEnumerable<string> InstalledVersionsNewestFirst()
    {
        if (!Directory.Exists(installRoot))
        {
            return [];
        }

        return Directory.EnumerateDirectories(installRoot)
            .Select(path => (path, version: ParseVersion(Path.GetFileName(path))))
            .Where(entry => entry.version is not null)
            .OrderByDescending(entry => entry.version)
            .Select(entry => Path.Combine(entry.path, "bin"));
    }

    private static Version? ParseVersion(string name) =>
        int.TryParse(name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var major)
            ? new Version(major, 0)
            : Version.TryParse(name, out var version) ? version : null;

    private static bool HasAll(string directory) => Required.All(name => IsExecutable(Path.Combine(directory, name)));

    private static string MissingIn(string directory) =>
        string.Join(", ", Required.Where(name => !IsExecutable(Path.Combine(directory, name))));

    private static bool IsExecutable(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }

        const UnixFileMode anyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        return OperatingSystem.IsWindows() || (File.GetUnixFileMode(path) & anyExecute) != 0;
    }
}
