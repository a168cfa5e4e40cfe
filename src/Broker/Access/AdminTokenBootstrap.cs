using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Relay.Broker.Hosting;
using Relay.Broker.Persistence;
using Relay.Protocol.V1;

namespace Relay.Broker.Access;

/// <summary>
/// First start: against a database with no personal tokens, creates an admin token and writes it to
/// <c>&lt;data-dir&gt;/admin.token</c> (mode 0600; the directory is created 0700), so whoever runs the broker can
/// manage it. Logs the path, never the token. Does nothing once any token exists, so restarts are idempotent.
/// Runs after the database has started and migrated (it is registered after persistence).
/// </summary>
internal sealed class AdminTokenBootstrap(
    IDbContextFactory<RelayDbContext> databases,
    TokenService tokens,
    IOptions<BrokerOptions> broker,
    ILogger<AdminTokenBootstrap> logger) : IHostedService
{
    public const string FileName = "admin.token";

    // Serialises first starts of several replicas on one database; a different key from TokenService's lock.
    private const long BootstrapLock = 0x52656c6179_02;

    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({BootstrapLock})", cancellationToken);
        if (await db.ApiTokens.AnyAsync(cancellationToken))
        {
            AccessLog.AdminTokenExists(logger);
            return;
        }

        var (token, secret) = await tokens.AddAsync(db, Caller.System, "admin", Role.Admin, expiresAt: null, cancellationToken);
        var path = Path.Combine(broker.Value.DataDirectory, FileName);

        // The file first, then the commit: if the commit fails, the file names a token that does not exist and the
        // next start replaces it; the other order could commit a token nobody can ever read.
        Write(path, secret);
        try
        {
            await transaction.CommitAsync(cancellationToken);
        }
        catch
        {
            File.Delete(path);
            throw;
        }

        AccessLog.AdminTokenCreated(logger, token.Id, path);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static void Write(string path, string secret)
    {
        var directory = Path.GetDirectoryName(path)!;
        try
        {
            // An existing directory keeps its mode: the embedded cluster may need others to traverse it.
            if (!Directory.Exists(directory))
            {
                Postgres.UnixFiles.CreateDirectory(directory, OwnerOnlyDirectory);
            }

            var temporary = path + ".tmp";
            File.Delete(temporary);
            var fileOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                fileOptions.UnixCreateMode = OwnerOnlyFile;
            }

            using (var stream = new FileStream(temporary, fileOptions))
            {
                stream.Write(Encoding.ASCII.GetBytes(secret + "\n"));
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new IOException(
                $"Could not write the first admin token to {path}: {ex.Message} Make Broker:DataDirectory (--data-dir) writable by the broker.", ex);
        }
    }
}
