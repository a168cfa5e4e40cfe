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

        builder.HasOne<Machine>().WithMany().HasForeignKey(e => e.MachineId).OnDelete(DeleteBehavior.Restrict);
        builder.HasOne<RelaySession>().WithMany().HasForeignKey(e => e.RelaySessionId).OnDelete(DeleteBehavior.SetNull);
    }
}
