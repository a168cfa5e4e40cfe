using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Relay.Broker.Persistence;

/// <summary>
/// Keeps a connection whose statement failed from going back to the pool with Npgsql's record of its prepared statements
/// out of step with the server's.
/// </summary>
/// <remarks>
/// <para>
/// Why: the broker auto-prepares its statements (RelayDatabase: Max Auto Prepare). When a statement or batch fails on
/// the use at which one of its statements is being prepared on that connection (its fifth), Npgsql 10.0.0 and 10.0.3
/// keep a wrong record of that statement (npgsql/npgsql#6391, open). The next use of it on the same connection fails
/// with "Received unexpected backend message DataRow", and Npgsql then drops the connection. Found through an agent
/// stream that ended when a batch refused by a database rule was stored again as refused: the refused copy's first
/// statement, the event-order lock, met the connection the failure had left behind.
/// </para>
/// <para>
/// A failure of an EF Core command is seen here (CommandFailed); code that runs Npgsql batches on a context's connection
/// reports its own (<see cref="MarkFailed"/>, or <see cref="Failing"/> in an exception filter). When the context closes
/// a connection marked so (after its transaction was rolled back), Npgsql is told to forget every prepared statement of
/// that connection (DEALLOCATE ALL, one round trip); they are prepared again after their next uses. Code that goes on
/// in the same transaction after a failure (a rolled-back savepoint) calls <see cref="RepairIfFailed"/> at once. A
/// connection that code opens itself (Database.OpenConnection) is closed on dispose without the interceptors: the
/// broker never does that. Failures are rare (a database rule, an out-of-date memory, a conflict), so this costs
/// nothing on the usual path.
/// </para>
/// </remarks>
internal sealed class PreparedStatementRepair(ILogger logger) : DbCommandInterceptor, IDbConnectionInterceptor
{
    private static readonly ConditionalWeakTable<DbConnection, object> Failed = [];
    private static readonly object Mark = new();

    /// <summary>For contexts made without a service provider (design time).</summary>
    public static readonly PreparedStatementRepair Silent = new(NullLogger.Instance);

    /// <summary>A statement failed on <paramref name="connection"/>: repair it when its context closes it.</summary>
    public static void MarkFailed(DbConnection connection) => Failed.AddOrUpdate(connection, Mark);

    /// <summary>
    /// For an exception filter around Npgsql batches on a context's connection: marks the connection when PostgreSQL
    /// refused a statement, and returns false (the exception goes on as if not caught).
    /// </summary>
    public static bool Failing(DbConnection connection, Exception exception)
    {
        if (exception is PostgresException)
        {
            MarkFailed(connection);
        }

        return false;
    }

    public override void CommandFailed(DbCommand command, CommandErrorEventData eventData) => MarkIfPostgres(command, eventData.Exception);

    public override Task CommandFailedAsync(DbCommand command, CommandErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        MarkIfPostgres(command, eventData.Exception);
        return Task.CompletedTask;
    }

    public InterceptionResult ConnectionClosing(DbConnection connection, ConnectionEventData eventData, InterceptionResult result)
    {
        RepairIfFailed(connection);
        return result;
    }

    public ValueTask<InterceptionResult> ConnectionClosingAsync(DbConnection connection, ConnectionEventData eventData, InterceptionResult result)
    {
        RepairIfFailed(connection);
        return ValueTask.FromResult(result);
    }

    // Only an error PostgreSQL sent ends a batch in the middle of a preparation; a broken connection is dropped anyway.
    private static void MarkIfPostgres(DbCommand command, Exception exception)
    {
        if (command.Connection is { } connection)
        {
            _ = Failing(connection, exception);
        }
    }

    /// <summary>
    /// When a statement failed on the connection since it was last repaired, makes Npgsql forget the connection's prepared
    /// statements now. The connection must not be in a failed transaction (roll it, or its savepoint, back first). Never
    /// throws: a connection it cannot repair is dropped from the pool.
    /// </summary>
    public void RepairIfFailed(DbConnection connection)
    {
        if (Failed.TryGetValue(connection, out _))
        {
            Repair(connection);
        }
    }

    private void Repair(DbConnection connection)
    {
        Failed.Remove(connection);
        if (connection is not NpgsqlConnection { FullState: System.Data.ConnectionState.Open } npgsql)
        {
            return; // closed or broken: Npgsql does not return a broken connection to the pool
        }

        try
        {
            // Npgsql has no asynchronous form; one round trip, on a failure path only.
            npgsql.UnprepareAll();
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
        {
            // Every idle connection of the pool is closed, and every busy one when it comes back: slower for a moment, never wrong.
            PersistenceLog.PreparedStatementsNotRepaired(logger, ex);
            NpgsqlConnection.ClearPool(npgsql);
        }
    }
}
