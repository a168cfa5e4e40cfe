using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Relay.Broker.Postgres;

internal sealed partial class EmbeddedPostgres
{
    private const string SocketFileName = ".s.PGSQL.5432";
    private const string SettingsFileName = "relay.conf";

    // sun_path holds 108 bytes including the terminating NUL, so the socket's path may be at most 107 bytes.
    private const int MaxSocketPathBytes = 107;

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    // rwx--x--x: the service account may pass through a root-owned data directory but not list it.
    private const UnixFileMode OwnerAndTraverse = OwnerOnly | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    private readonly bool _socketDirectoryIsFallback;

    /// <summary>The major version in PG_VERSION, or null when the cluster has not been initialised.</summary>
    private string? ReadClusterVersion()
    {
        var file = Path.Combine(DataPath, "PG_VERSION");
        return File.Exists(file) ? File.ReadAllText(file).Trim() : null;
    }

    private async Task PrepareClusterDirectoryAsync(CancellationToken cancellationToken)
    {
        if (!Directory.Exists(_options.DataDirectory))
        {
            UnixFiles.CreateDirectory(_options.DataDirectory, _runAs is null ? OwnerOnly : OwnerAndTraverse);
        }

        UnixFiles.CreateDirectory(ClusterDirectory, OwnerOnly);

        if (Directory.Exists(DataPath) && ReadClusterVersion() is null && Directory.EnumerateFileSystemEntries(DataPath).Any())
        {
            // initdb stopped half-way (killed, disk full): it refuses a non-empty directory, and nothing in it is data.
            LogRemovedIncompleteCluster(DataPath);
            Directory.Delete(DataPath, recursive: true);
        }

        if (_runAs is null)
        {
            return;
        }

        await RunCheckedAsync("chown", ["-R", $"{_runAs}:", ClusterDirectory], asServiceAccount: false, cancellationToken);
        var access = await RunAsync("test", ["-w", ClusterDirectory, "-a", "-x", ClusterDirectory], asServiceAccount: true, cancellationToken);
        if (!access.Succeeded)
        {
            throw new EmbeddedPostgresException(
                $"The '{_runAs}' account, which runs PostgreSQL because the broker runs as root, cannot reach {ClusterDirectory}. " +
                $"Every directory above it must be searchable by '{_runAs}' (chmod o+x), so choose a data directory such as " +
                $"/var/lib/relay rather than one under /root. {access.Output}");
        }
    }

    private async Task InitialiseAsync(CancellationToken cancellationToken)
    {
        LogInitialising(DataPath);
        await RunCheckedAsync(
            Binaries.InitDb,
            [
                "--pgdata", DataPath,
                "--username", SuperUser,
                "--encoding", "UTF8",
                "--locale", "C",
                "--auth-local", "trust",
                "--auth-host", "reject",
            ],
            asServiceAccount: true,
            cancellationToken);

        // The settings file is rewritten at every start (the socket directory may change); postgresql.conf includes it.
        await File.AppendAllTextAsync(
            Path.Combine(DataPath, "postgresql.conf"),
            $"{Environment.NewLine}# Added by relay-broker.{Environment.NewLine}include_if_exists = '{SettingsFileName}'{Environment.NewLine}",
            cancellationToken);
    }

    /// <summary>
    /// <c>postgres/run</c> when the socket's full path fits a Unix socket address, else a fixed directory under /tmp
    /// named after the cluster path (so every start of the same cluster uses the same one).
    /// </summary>
    private static (string Directory, bool IsFallback) SocketDirectoryFor(string clusterDirectory)
    {
        var preferred = Path.Combine(clusterDirectory, "run");
        if (SocketPathBytes(preferred) <= MaxSocketPathBytes)
        {
            return (preferred, false);
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(clusterDirectory)))[..16];
        return (Path.Combine("/tmp", "relay-pg-" + hash), true);
    }

    private static int SocketPathBytes(string directory) =>
        Encoding.UTF8.GetByteCount(Path.Combine(directory, SocketFileName));

    /// <summary>
    /// Creates the socket directory (0700, owned by whoever runs the server). A fallback directory lives in /tmp,
    /// where anyone could have created it first, so it is used only if it is a real directory that belongs to the
    /// server's account (or to us, just now) and nobody else can enter.
    /// </summary>
    private async Task PrepareSocketDirectoryAsync(CancellationToken cancellationToken)
    {
        if (_socketDirectoryIsFallback)
        {
            LogSocketPathTooLong(Path.Combine(ClusterDirectory, "run"), SocketPathBytes(Path.Combine(ClusterDirectory, "run")), SocketDirectory);
        }

        var existed = Directory.Exists(SocketDirectory) || File.Exists(SocketDirectory);
        var directory = UnixFiles.CreateDirectory(SocketDirectory, OwnerOnly);
        if (!_socketDirectoryIsFallback)
        {
            UnixFiles.SetMode(SocketDirectory, OwnerOnly);
        }
        else
        {
            var owner = await RunAsync("stat", ["--format", "%U", SocketDirectory], asServiceAccount: false, cancellationToken);
            var serverAccount = _runAs ?? Environment.UserName;
            var ownedByUs = owner.Output == serverAccount || (!existed && owner.Output == Environment.UserName);
            if (directory.LinkTarget is not null || !UnixFiles.HasMode(SocketDirectory, OwnerOnly) || !owner.Succeeded || !ownedByUs)
            {
                throw new EmbeddedPostgresException(
                    $"The socket directory {SocketDirectory} exists but is not a private (0700) directory of '{serverAccount}' " +
                    $"(owner: {owner.Output}). Remove it, or use a shorter data directory so the socket can live inside it.");
            }
        }

        if (_runAs is not null)
        {
            await RunCheckedAsync("chown", [$"{_runAs}:", SocketDirectory], asServiceAccount: false, cancellationToken);
        }
    }

    private void RemoveFallbackSocketDirectory()
    {
        if (!_socketDirectoryIsFallback)
        {
            return;
        }

        try
        {
            Directory.Delete(SocketDirectory, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogSocketDirectoryNotRemoved(SocketDirectory, ex.Message);
        }
    }

    private async Task WriteServerSettingsAsync(CancellationToken cancellationToken)
    {
        var settings = string.Join(
            Environment.NewLine,
            "# Written by relay-broker at every start of the embedded cluster; edits are overwritten.",
            "listen_addresses = ''",
            $"port = {Port.ToString(CultureInfo.InvariantCulture)}",
            $"unix_socket_directories = '{SocketDirectory.Replace("'", "''", StringComparison.Ordinal)}'",
            "unix_socket_permissions = 0700",
            "# Backends and autovacuum ask the kernel to write back their dirty data every 256 kB, as the checkpointer",
            "# does. Otherwise it waits for the kernel's background writeback (10 % of memory or 30 s old), which then",
            "# flushes in bursts that hold up every commit's WAL flush for hundreds of milliseconds.",
            "# ALTER SYSTEM overrides any setting here (postgresql.auto.conf is read last).",
            "backend_flush_after = 256kB",
            "# A new WAL segment is created by the backend that needs it, holding the WAL write lock: zero-filling its",
            "# 16 MB then stalled every commit. A cluster recycles old segments only after its first checkpoint (5 minutes",
            "# or about 0.5 GB of WAL), so a new or busy cluster made one a second at 10,000 events/s, each a 60-400 ms",
            "# stall. Without the zeros the file is only sized; each fdatasync then also records the blocks it allocated,",
            "# which is how every other file grows, and PostgreSQL reads its WAL the same either way.",
            "wal_init_zero = off",
            string.Empty);
        var path = Path.Combine(DataPath, SettingsFileName);
        await File.WriteAllTextAsync(path, settings, cancellationToken);
        if (_runAs is not null)
        {
            await RunCheckedAsync("chown", [$"{_runAs}:", path], asServiceAccount: false, cancellationToken);
        }
    }

    private async Task StartServerAsync(CancellationToken cancellationToken)
    {
        var waitSeconds = Math.Max(1, (int)Math.Ceiling(_options.StartTimeout.TotalSeconds));
        var result = await RunAsync(
            Binaries.PgCtl,
            ["start", "--pgdata", DataPath, "--log", LogPath, "--wait", "--timeout", waitSeconds.ToString(CultureInfo.InvariantCulture), "--silent"],
            asServiceAccount: true,
            cancellationToken);
        if (!result.Succeeded)
        {
            throw new EmbeddedPostgresException(
                $"pg_ctl could not start the embedded PostgreSQL server in {DataPath} (exit code {result.ExitCode}). {result.Output} {LogTail()}");
        }
    }

    private async Task StopServerAsync(CancellationToken cancellationToken)
    {
        var waitSeconds = Math.Max(1, (int)Math.Ceiling(_options.StopTimeout.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        var fast = await RunAsync(
            Binaries.PgCtl,
            ["stop", "--pgdata", DataPath, "--mode", "fast", "--wait", "--timeout", waitSeconds, "--silent"],
            asServiceAccount: true,
            cancellationToken);
        if (fast.Succeeded || !ServerIsRunning())
        {
            return;
        }

        LogFastStopFailed(fast.Output);
        await RunCheckedAsync(
            Binaries.PgCtl,
            ["stop", "--pgdata", DataPath, "--mode", "immediate", "--wait", "--timeout", waitSeconds, "--silent"],
            asServiceAccount: true,
            cancellationToken);
    }

    private PostgresBinaries Binaries =>
        _binaries ?? throw new InvalidOperationException("The PostgreSQL binaries have not been located yet.");

    private async Task RunCheckedAsync(string program, IReadOnlyList<string> arguments, bool asServiceAccount, CancellationToken cancellationToken)
    {
        var result = await RunAsync(program, arguments, asServiceAccount, cancellationToken);
        if (!result.Succeeded)
        {
            throw new EmbeddedPostgresException(
                $"'{Path.GetFileName(program)} {string.Join(' ', arguments)}' failed with exit code {result.ExitCode}: {result.Output}");
        }
    }

    /// <summary>Runs a helper, as the service account when asked and the broker runs as root, from the cluster directory.</summary>
    private Task<ChildProcessResult> RunAsync(string program, IReadOnlyList<string> arguments, bool asServiceAccount, CancellationToken cancellationToken)
    {
        var (fileName, wrapped) = asServiceAccount && _runAs is not null
            ? UnixAccount.WrapAs(_runAs, program, arguments)
            : (program, arguments);

        // The working directory must be one the service account can enter (initdb and pg_ctl complain otherwise).
        var timeout = _options.StartTimeout > _options.StopTimeout ? _options.StartTimeout : _options.StopTimeout;
        return ChildProcess.RunAsync(fileName, wrapped, ClusterDirectory, timeout, _timeProvider, cancellationToken);
    }
}
