using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Persistence.Configurations;

internal sealed class AgentLinkStateConfiguration : IEntityTypeConfiguration<AgentLinkState>
{
    public void Configure(EntityTypeBuilder<AgentLinkState> builder)
    {
        builder.ToTable("agent_link_state");
        builder.HasKey(s => s.MachineId);
        builder.Property(s => s.MachineId).ValueGeneratedNever();
        builder.Property(s => s.LeaseHolder).HasMaxLength(Limits.Name);
        builder.Property(s => s.SpoolEpoch).HasMaxLength(Limits.IdempotencyKey);
        builder.Property(s => s.BrokerEpoch).HasMaxLength(Limits.IdempotencyKey);
        builder.Property(s => s.Version).IsRowVersion().HasColumnName("xmin"); // PostgreSQL's system column, not created
        builder.HasOne<Machine>().WithOne().HasForeignKey<AgentLinkState>(s => s.MachineId).OnDelete(DeleteBehavior.Cascade);
    }
}
