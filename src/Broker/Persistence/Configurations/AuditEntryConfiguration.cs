using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Persistence.Configurations;

internal sealed class AuditEntryConfiguration : IEntityTypeConfiguration<AuditEntry>
{
    public void Configure(EntityTypeBuilder<AuditEntry> builder)
    {
        builder.ToTable("audit_log");
        builder.HasKey(a => a.Id);
        builder.Property(a => a.Id).UseIdentityAlwaysColumn();
        builder.Property(a => a.Actor).HasMaxLength(Limits.Actor);
        builder.Property(a => a.Action).HasMaxLength(Limits.Name);
        builder.Property(a => a.Target).HasMaxLength(Limits.Actor);
        builder.Property(a => a.Details).HasColumnType("jsonb");

        builder.HasIndex(a => a.At);
        builder.HasIndex(a => new { a.Actor, a.At });
    }
}
