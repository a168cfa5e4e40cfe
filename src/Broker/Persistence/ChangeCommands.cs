using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace Relay.Broker.Persistence;

/// <summary>
/// A context's pending inserts and updates as statements for a caller's <see cref="NpgsqlBatch"/>, so that they share a
/// round trip with the statements that follow them (EF's SaveChanges is a round trip of its own). Only the simple cases
/// are rendered; anything else (a delete, a store-generated key or default, an insert that depends on another insert,
/// a changed key, a mapping EF would need its own pipeline for) returns null, and the caller saves with EF as before.
/// </summary>
/// <remarks>
/// <para>An update must change exactly one row, as EF requires: it is written as
/// <c>WITH changed AS (UPDATE … RETURNING 1) SELECT CASE WHEN count(*) = 1 THEN 1 ELSE (SELECT 1 UNION ALL SELECT 1) END</c>,
/// so a row that is gone or whose concurrency token (a prompt's row version) moved since it was read makes PostgreSQL
/// raise 21000 (cardinality violation) inside the round trip, which stops it before anything after it, a COMMIT
/// included. <see cref="Conflict"/> turns that error into the <see cref="DbUpdateConcurrencyException"/> SaveChanges
/// would have thrown: not a data error, so an agent's batch that hits it fails and is resent, never refused.</para>
/// <para>Each statement returns one row (the updates their check, the inserts <c>RETURNING 1</c>), so each is one
/// result of the batch, as the statements around it are.</para>
/// <para>Values are converted and typed by EF's own type mappings. Store-generated columns (a row version, a generated
/// search vector) are neither written nor read back: callers render the changes of a context they discard after the
/// round trip, and <see cref="Accept"/> marks the entries saved.</para>
/// </remarks>
internal static class ChangeCommands
{
    private const string ExactlyOne = ") SELECT CASE WHEN count(*) = 1 THEN 1 ELSE (SELECT 1 UNION ALL SELECT 1) END FROM changed";

    // Only ever asked for new parameters (which it does not keep): EF's type mappings create theirs through a command.
    private static readonly NpgsqlCommand ParameterFactory = new();

    /// <summary>
    /// The context's pending changes as statements, or null when any of them needs EF's SaveChanges.
    /// <paramref name="generatedKeysUnread"/>: the caller never reads the keys the store generates for its inserts (an
    /// audit record, an outbox row), so such inserts are rendered without them and their entities are detached by
    /// <see cref="Accept"/>. <paramref name="versionsChecked"/>: entities whose row version the caller checks itself in
    /// the same round trip, under a lock every other writer of their rows takes first; their updates name the key alone
    /// (the version they were read with may not be known yet: InboundProcessor.Pipeline.cs).
    /// </summary>
    public static List<NpgsqlBatchCommand>? TryRender(DbContext db, bool generatedKeysUnread = false, IReadOnlySet<object>? versionsChecked = null)
    {
        db.ChangeTracker.DetectChanges();
        var all = EntriesAsDetected(db);
        var entries = all.Where(e => e.State is EntityState.Added or EntityState.Modified).ToList();
        if (all.Any(e => e.State == EntityState.Deleted) || DependsOnAnInsert(entries))
        {
            return null;
        }

        var commands = new List<NpgsqlBatchCommand>(entries.Count);
        foreach (var entry in entries)
        {
            if (entry.Metadata.GetTableName() is not { } table || entry.Metadata.IsOwned() || entry.Metadata.GetNavigations().Any()
                || entry.Metadata.GetComplexProperties().Any())
            {
                return null;
            }

            var store = StoreObjectIdentifier.Table(table, entry.Metadata.GetSchema());
            var command = entry.State == EntityState.Added
                ? Insert(entry, table, store, generatedKeysUnread)
                : Update(entry, table, store, versionsChecked?.Contains(entry.Entity) != true);
            if (command is null)
            {
                return null;
            }

            commands.Add(command);
        }

        return commands;
    }

    /// <summary>After the round trip succeeded: the entries are saved (those whose generated key was never read, detached).</summary>
    /// <remarks>
    /// Accepts the entries as <see cref="TryRender"/> found them, without looking for changes again: nothing writes the
    /// entities between the render and its round trip. Only a primary key can be temporary here: <see cref="Insert"/>
    /// renders no other generated value.
    /// </remarks>
    public static void Accept(DbContext db)
    {
        foreach (var entry in EntriesAsDetected(db))
        {
            if (entry.State == EntityState.Added && entry.Metadata.FindPrimaryKey() is { } key && key.Properties.Any(p => entry.Property(p).IsTemporary))
            {
                entry.State = EntityState.Detached;
            }
        }

        db.ChangeTracker.AcceptAllChanges();
    }

    /// <summary>
    /// The context's entries as its last DetectChanges left them. <see cref="ChangeTracker.Entries()"/> detects changes
    /// first, which compares every property of every entry with its snapshot again.
    /// </summary>
    private static List<EntityEntry> EntriesAsDetected(DbContext db)
    {
        var tracker = db.ChangeTracker;
        var detecting = tracker.AutoDetectChangesEnabled;
        tracker.AutoDetectChangesEnabled = false;
        try
        {
            return [.. tracker.Entries()];
        }
        finally
        {
            tracker.AutoDetectChangesEnabled = detecting;
        }
    }

    /// <summary>
    /// The error SaveChanges would have thrown for <paramref name="error"/>, raised in a round trip that carried
    /// <paramref name="commands"/>: a <see cref="DbUpdateConcurrencyException"/> for a row gone or changed
    /// (<see cref="Conflict"/>), a <see cref="DbUpdateException"/> around a constraint violation of one of them (a unique
    /// key, a foreign key); null for anything else.
    /// </summary>
    public static DbUpdateException? Translate(PostgresException error, IReadOnlyList<NpgsqlBatchCommand> commands)
    {
        if (Conflict(error, commands) is { } conflict)
        {
            return conflict;
        }

        var ours = commands.Count > 0 && (error.BatchCommand is not { } failed || commands.Contains(failed));
        return ours && error.SqlState.StartsWith("23", StringComparison.Ordinal) ? new DbUpdateException(error.MessageText, error) : null;
    }

    /// <summary>
    /// The concurrency failure SaveChanges would have thrown, when <paramref name="error"/> is one of
    /// <paramref name="commands"/> finding its row gone or changed; null for any other error.
    /// </summary>
    public static DbUpdateConcurrencyException? Conflict(PostgresException error, IReadOnlyList<NpgsqlBatchCommand> commands)
    {
        // Npgsql does not always say which statement of a batch failed (BatchCommand is null when the error ends the
        // reader): a 21000 from a round trip that carries updates rendered here is theirs when it cannot name another.
        if (error.SqlState != PostgresErrorCodes.CardinalityViolation || commands.Count == 0
            || (error.BatchCommand is { } failed && !commands.Contains(failed)))
        {
            return null;
        }

        return new DbUpdateConcurrencyException("A row the batch updates was deleted or changed since it was read; nothing of the batch was saved.", error);
    }

    private static NpgsqlBatchCommand? Insert(EntityEntry entry, string table, StoreObjectIdentifier store, bool generatedKeysUnread)
    {
        var command = new NpgsqlBatchCommand();
        var columns = new StringBuilder();
        var values = new StringBuilder();
        foreach (var property in entry.Metadata.GetProperties())
        {
            if (property.GetBeforeSaveBehavior() == PropertySaveBehavior.Ignore)
            {
                continue; // the store's to write: a generated column, the row version
            }

            if (property.ValueGenerated != ValueGenerated.Never)
            {
                if (generatedKeysUnread && property.IsPrimaryKey() && entry.Property(property.Name).IsTemporary)
                {
                    continue; // the store numbers it, and nobody reads it back
                }

                return null; // a generated key or a default: EF would leave it to the store and read it back
            }

            Append(columns, values, command, property, store, entry.Property(property.Name).CurrentValue);
        }

        // RETURNING a row, as the updates do: every statement rendered here is one result with rows, so a caller that
        // counts its batch's results need not know which statements are here (Npgsql's NextResult passes over results
        // without rows).
        command.CommandText = $"INSERT INTO \"{table}\" ({columns}) VALUES ({values}) RETURNING 1";
        return command;
    }

    private static NpgsqlBatchCommand? Update(EntityEntry entry, string table, StoreObjectIdentifier store, bool checkToken)
    {
        var command = new NpgsqlBatchCommand();
        var set = new StringBuilder();
        foreach (var member in entry.Properties.Where(p => p.IsModified))
        {
            var property = member.Metadata;
            if (property.IsKey() || property.GetAfterSaveBehavior() != PropertySaveBehavior.Save || property.ValueGenerated != ValueGenerated.Never)
            {
                return null;
            }

            set.Append(set.Length == 0 ? string.Empty : ", ").Append('"').Append(property.GetColumnName(store)).Append("\" = ")
                .Append(Parameter(command, property, member.CurrentValue));
        }

        if (set.Length == 0)
        {
            return null; // Modified with nothing modified: EF knows what that means.
        }

        var where = new StringBuilder();
        foreach (var property in entry.Metadata.GetProperties().Where(p => p.IsPrimaryKey() || (checkToken && p.IsConcurrencyToken)))
        {
            where.Append(where.Length == 0 ? string.Empty : " AND ").Append('"').Append(property.GetColumnName(store)).Append("\" = ")
                .Append(Parameter(command, property, entry.Property(property.Name).OriginalValue));
        }

        command.CommandText = $"WITH changed AS (UPDATE \"{table}\" SET {set} WHERE {where} RETURNING 1{ExactlyOne}";
        return command;
    }

    private static void Append(StringBuilder columns, StringBuilder values, NpgsqlBatchCommand command, IProperty property, StoreObjectIdentifier store, object? value)
    {
        columns.Append(columns.Length == 0 ? string.Empty : ", ").Append('"').Append(property.GetColumnName(store)).Append('"');
        values.Append(values.Length == 0 ? string.Empty : ", ").Append(Parameter(command, property, value));
    }

    /// <summary>Adds the value as EF would send it (converted, typed by the property's mapping); returns its placeholder.</summary>
    private static string Parameter(NpgsqlBatchCommand command, IProperty property, object? value)
    {
        var name = "p" + command.Parameters.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var parameter = (NpgsqlParameter)((RelationalTypeMapping)property.GetTypeMapping()).CreateParameter(ParameterFactory, name, value, property.IsNullable);
        command.Parameters.Add(parameter);
        return "@" + name;
    }

    /// <summary>True when an insert's foreign key names another pending insert: EF would order them, this does not.</summary>
    private static bool DependsOnAnInsert(List<EntityEntry> entries)
    {
        var inserted = entries.Where(e => e.State == EntityState.Added).ToList();
        if (inserted.Count < 2)
        {
            return false;
        }

        var keys = inserted.Select(e => (e.Metadata.ClrType, Key: KeyOf(e))).ToHashSet();
        foreach (var entry in inserted)
        {
            foreach (var foreignKey in entry.Metadata.GetForeignKeys())
            {
                if (foreignKey.Properties.Count != 1)
                {
                    return true;
                }

                var value = entry.Property(foreignKey.Properties[0].Name).CurrentValue;
                if (value is not null && keys.Contains((foreignKey.PrincipalEntityType.ClrType, value)))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static object? KeyOf(EntityEntry entry) =>
        entry.Metadata.FindPrimaryKey() is { Properties: [var only] } ? entry.Property(only.Name).CurrentValue : entry;
}
