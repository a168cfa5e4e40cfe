using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Persistence.Configurations;

internal sealed class PolicyEntryConfiguration : IEntityTypeConfiguration<PolicyEntry>
{
    public void Configure(EntityTypeBuilder<PolicyEntry> builder)
    {
        builder.ToTable("policy");
        builder.HasKey(p => p.Key);
        builder.Property(p => p.Key).HasMaxLength(Limits.Name);
        builder.Property(p => p.Value).HasColumnType("jsonb");
        builder.Property(p => p.UpdatedBy).HasMaxLength(Limits.Actor);
    }
}
