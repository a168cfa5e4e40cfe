using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Relay.Broker.Persistence;

/// <summary>
/// Refuses to open the connection of a <see cref="RelayDbContext"/> marked <see cref="RelayDbContext.Offline"/>: work that
/// must not read the database before its transaction takes its locks (a batch prepared from a stream's memory) fails
/// with <see cref="OfflineAccessException"/> at its first lookup instead of reading outside them.
/// </summary>
internal sealed class OfflineGuard : DbConnectionInterceptor
{
    public static readonly OfflineGuard Instance = new();

    public override InterceptionResult ConnectionOpening(DbConnection connection, ConnectionEventData eventData, InterceptionResult result) =>
        eventData.Context is RelayDbContext { Offline: true } ? throw new OfflineAccessException() : result;

    public override ValueTask<InterceptionResult> ConnectionOpeningAsync(
        DbConnection connection, ConnectionEventData eventData, InterceptionResult result, CancellationToken cancellationToken = default) =>
        eventData.Context is RelayDbContext { Offline: true } ? throw new OfflineAccessException() : ValueTask.FromResult(result);
}

/// <summary>A context marked offline needed the database (see <see cref="OfflineGuard"/>).</summary>
internal sealed class OfflineAccessException() : InvalidOperationException("This unit of work may not read the database yet.");
