using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Persistence.Configurations;

internal sealed class OutboxMessageConfiguration : IEntityTypeConfiguration<OutboxMessage>
{
    public void Configure(EntityTypeBuilder<OutboxMessage> builder)
    {
        builder.ToTable("agent_outbox");
        builder.HasKey(o => o.Id);
        // Insertion order is the order the machine's stream numbers (and so delivers) the rows.
        builder.Property(o => o.Id).UseIdentityAlwaysColumn();
        builder.Property(o => o.Kind).StoredAsText(Limits.EnumText);

        // A seq is given once per machine (NULLs, the rows not numbered yet, do not collide).
        builder.HasIndex(o => new { o.MachineId, o.Seq }).IsUnique();
        builder.HasIndex(o => new { o.MachineId, o.Id });

        builder.HasOne<Machine>().WithMany().HasForeignKey(o => o.MachineId).OnDelete(DeleteBehavior.Cascade);
    }
}
