using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Relay.Broker.Postgres;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Broker.Tests.Postgres;

/// <summary>Each test runs its own cluster from the machine's PostgreSQL binaries (as 'postgres' when run as root).</summary>
public sealed class EmbeddedPostgresTests
{
    private static EmbeddedPostgres Create(string dataDirectory, PostgresBinaryLocator? locator = null) =>
        new(new EmbeddedPostgresOptions { DataDirectory = dataDirectory },
            NullLogger<EmbeddedPostgres>.Instance,
            TimeProvider.System,
            locator);

    [Fact]
    public async Task StartAsync_AfterStopAndRestart_KeepsData()
    {
        using var timeout = TestTimeout.Start();
        using var directory = new TempDirectory();

        await using (var first = Create(directory.Path))
        {
            await first.StartAsync(timeout.Token);
            await ExecuteAsync(first.ConnectionString, "CREATE TABLE notes (text text); INSERT INTO notes VALUES ('kept')", timeout.Token);
            await first.StopAsync(timeout.Token);
            first.IsRunning.Should().BeFalse();
        }

        await using var second = Create(directory.Path);
        await second.StartAsync(timeout.Token);

        (await ScalarAsync(second.ConnectionString, "SELECT text FROM notes", timeout.Token)).Should().Be("kept");
    }

    [Fact]
    public async Task StartAsync_NewCluster_ListensOnlyOnItsPrivateUnixSocket()
    {
        using var timeout = TestTimeout.Start();
        using var directory = new TempDirectory();
        await using var postgres = Create(directory.Path);

        await postgres.StartAsync(timeout.Token);

        postgres.SocketDirectory.Should().Be(Path.Combine(directory.Path, "postgres", "run"));
        File.GetUnixFileMode(postgres.SocketDirectory).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        (await ScalarAsync(postgres.ConnectionString, "SHOW listen_addresses", timeout.Token)).Should().BeEmpty();
        (await ScalarAsync(postgres.ConnectionString, "SELECT current_database()", timeout.Token)).Should().Be("relay");
        (await ScalarAsync(postgres.ConnectionString, "SHOW server_encoding", timeout.Token)).Should().Be("UTF8");
        if (UnixAccount.IsRoot())
        {
            var owner = await ChildProcess.RunAsync("stat", ["-c", "%U", postgres.DataPath], null, TestTimeout.Default, TimeProvider.System, timeout.Token);
            owner.Output.Should().Be("postgres", "PostgreSQL refuses to run as root, so the cluster belongs to the postgres account");
        }
    }

    [Fact]
    public async Task StartAsync_NewCluster_WritesBackEarlyAndSizesNewWalSegmentsWithoutZeros()
    {
        using var timeout = TestTimeout.Start();
        using var directory = new TempDirectory();
        await using var postgres = Create(directory.Path);

        await postgres.StartAsync(timeout.Token);

        // PostgreSQL's default (0) leaves backends' and autovacuum's writes to the kernel's background writeback, whose
        // bursts stalled commits for 200-500 ms in relay-bench's ingest-10k-latency.
        (await ScalarAsync(postgres.ConnectionString, "SHOW backend_flush_after", timeout.Token)).Should().Be("256kB");
        // PostgreSQL's default (on) zero-fills each new WAL segment under the WAL write lock: a commit stall a second
        // at 10,000 events/s until the cluster's first checkpoint.
        (await ScalarAsync(postgres.ConnectionString, "SHOW wal_init_zero", timeout.Token)).Should().Be("off");
    }

    [Fact]
    public async Task StartAsync_SettingChangedWithAlterSystem_KeepsItAcrossRestarts()
    {
        using var timeout = TestTimeout.Start();
        using var directory = new TempDirectory();

        await using (var first = Create(directory.Path))
        {
            await first.StartAsync(timeout.Token);
            await ExecuteAsync(first.ConnectionString, "ALTER SYSTEM SET backend_flush_after = '64kB'", timeout.Token);
            await first.StopAsync(timeout.Token);
        }

        await using var second = Create(directory.Path);
        await second.StartAsync(timeout.Token);

        (await ScalarAsync(second.ConnectionString, "SHOW backend_flush_after", timeout.Token)).Should().Be("64kB", "an operator's ALTER SYSTEM wins over the settings the broker rewrites at every start");
    }

    [Fact]
    public async Task StartAsync_DataDirectoryTooLongForASocketPath_UsesPrivateDirectoryUnderTmpAndRemovesIt()
    {
        using var timeout = TestTimeout.Start();
        using var directory = new TempDirectory();
        var deep = Path.Combine(directory.Path, new string('d', 60), new string('e', 40));
        string socketDirectory;

        await using (var postgres = Create(deep))
        {
            await postgres.StartAsync(timeout.Token);
            socketDirectory = postgres.SocketDirectory;

            socketDirectory.Should().StartWith("/tmp/relay-pg-");
            File.GetUnixFileMode(socketDirectory).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            (await ScalarAsync(postgres.ConnectionString, "SELECT 'ok'", timeout.Token)).Should().Be("ok");
        }

        Directory.Exists(socketDirectory).Should().BeFalse();
    }

    [Fact]
    public async Task StartAsync_AfterServerWasKilled_RecoversWithCommittedData()
    {
        using var timeout = TestTimeout.Start();
        using var directory = new TempDirectory();
        var first = Create(directory.Path);
        await first.StartAsync(timeout.Token);
        await ExecuteAsync(first.ConnectionString, "CREATE TABLE notes (text text); INSERT INTO notes VALUES ('committed')", timeout.Token);
        NpgsqlConnection.ClearAllPools();

        // A crash: the postmaster dies without shutting down, leaving postmaster.pid and its socket lock behind.
        var pid = EmbeddedPostgres.ParsePid(await File.ReadAllTextAsync(Path.Combine(first.DataPath, "postmaster.pid"), timeout.Token));
        using (var postmaster = System.Diagnostics.Process.GetProcessById(pid!.Value))
        {
            postmaster.Kill();
        }

        await using var second = Create(directory.Path);
        await second.StartAsync(timeout.Token);

        (await ScalarAsync(second.ConnectionString, "SELECT text FROM notes", timeout.Token)).Should().Be("committed");
    }

    [Fact]
    public async Task StartAsync_StalePidFileNamingALiveUnrelatedProcess_RemovesItAndStarts()
    {
        using var timeout = TestTimeout.Start();
        using var directory = new TempDirectory();
        await using (var first = Create(directory.Path))
        {
            await first.StartAsync(timeout.Token);
            await first.StopAsync(timeout.Token);

            // After a reboot or in a container the recorded pid often belongs to someone else; PostgreSQL alone would
            // refuse to start ("lock file already exists").
            await File.WriteAllTextAsync(
                Path.Combine(first.DataPath, "postmaster.pid"),
                $"{Environment.ProcessId}\n{first.DataPath}\n1700000000\n5432\n{first.SocketDirectory}\n\n  5432001         0\nready   \n",
                timeout.Token);
        }

        await using var second = Create(directory.Path);
        await second.StartAsync(timeout.Token);

        (await ScalarAsync(second.ConnectionString, "SELECT 'ok'", timeout.Token)).Should().Be("ok");
    }

    [Fact]
    public async Task StartAsync_AsRootUnderADirectoryPostgresCannotEnter_SaysWhichDirectoryAndWhy()
    {
        if (!UnixAccount.IsRoot())
        {
            return; // Only root hands the cluster to another account.
        }

        using var timeout = TestTimeout.Start();
        using var directory = new TempDirectory();
        Directory.CreateDirectory(directory.Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        await using var postgres = Create(Path.Combine(directory.Path, "data"));

        var start = () => postgres.StartAsync(timeout.Token);

        (await start.Should().ThrowAsync<EmbeddedPostgresException>())
            .WithMessage($"*'postgres' account*cannot reach {directory.Path}/data/postgres*chmod o+x*");
    }

    [Fact]
    public async Task StartAsync_NoServerBinaries_FailsWithInstallAdviceAndCreatesNothing()
    {
        using var timeout = TestTimeout.Start();
        using var directory = new TempDirectory();
        using var emptyInstallRoot = new TempDirectory();
        Directory.CreateDirectory(emptyInstallRoot.Path);
        await using var postgres = Create(directory.Path, new PostgresBinaryLocator(searchPath: string.Empty, emptyInstallRoot.Path));

        var start = () => postgres.StartAsync(timeout.Token);

        (await start.Should().ThrowAsync<PostgresNotInstalledException>())
            .WithMessage("*initdb, pg_ctl, postgres*not found*apt-get install postgresql*");
        Directory.Exists(directory.Path).Should().BeFalse();
    }

    private static async Task ExecuteAsync(string connectionString, string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
#pragma warning disable CA2100 // Test SQL is a constant of the test.
        await using var command = new NpgsqlCommand(sql, connection);
#pragma warning restore CA2100
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<string?> ScalarAsync(string connectionString, string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
#pragma warning disable CA2100 // Test SQL is a constant of the test.
        await using var command = new NpgsqlCommand(sql, connection);
#pragma warning restore CA2100
        return (string?)await command.ExecuteScalarAsync(cancellationToken);
    }
}
