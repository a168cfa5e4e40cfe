using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Persistence.Configurations;

internal sealed class MachineConfiguration : IEntityTypeConfiguration<Machine>
{
    public void Configure(EntityTypeBuilder<Machine> builder)
    {
        builder.ToTable("machines");
        builder.HasKey(m => m.Id);
        builder.Property(m => m.Id).ValueGeneratedNever();
        builder.Property(m => m.Name).HasMaxLength(Limits.Name);
        builder.Property(m => m.Hostname).HasMaxLength(Limits.Name);
        builder.Property(m => m.Os).HasMaxLength(Limits.EnumText);
        builder.Property(m => m.AgentVersion).HasMaxLength(Limits.Name);
        builder.Property(m => m.ClaudeCodeVersion).HasMaxLength(Limits.Name);
        builder.Property(m => m.AgentStats).HasColumnType("jsonb");
        builder.HasIndex(m => m.Name).IsUnique();
    }
}
