using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Persistence.Configurations;

internal sealed class EventRecordConfiguration : IEntityTypeConfiguration<EventRecord>
{
    public void Configure(EntityTypeBuilder<EventRecord> builder)
    {
        builder.ToTable("events");
        builder.HasKey(e => e.Id);
        // The watch cursor: assigned by the database, never by a client.
        builder.Property(e => e.Id).UseIdentityAlwaysColumn();
        builder.Property(e => e.Kind).StoredAsText(Limits.EnumText);
        builder.Property(e => e.HookEventName).HasMaxLength(Limits.HookEventName);
        builder.Property(e => e.ToolName).HasMaxLength(Limits.ToolName);
        builder.Property(e => e.Payload).HasColumnType("jsonb");

        // Dedup of retransmitted events; EventIngestWriter's ON CONFLICT names these columns.
        builder.HasIndex(e => new { e.MachineId, e.AgentEventId }).IsUnique();
        // History and watch of one session, in cursor order.
        builder.HasIndex(e => new { e.RelaySessionId, e.Id });
        // Retention deletes by age.
        builder.HasIndex(e => e.ReceivedAt);

        // No foreign keys to machines or sessions. The log is append-only, written by EventIngestWriter and
        // TimelineWriter with ids of rows the same transaction read or created, and machines and sessions are never
        // deleted (a machine is revoked, a session ends), so the checks could not fail. They were not free: PostgreSQL
        // runs each as a trigger per inserted row, about a quarter of an event's insert time (migration
        // EventsWithoutForeignKeys, docs/design/ingest-concurrency.md).
    }
}
