using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Persistence.Configurations;

internal sealed class LaunchConfiguration : IEntityTypeConfiguration<Launch>
{
    public void Configure(EntityTypeBuilder<Launch> builder)
    {
        builder.ToTable("launches");
        builder.HasKey(l => l.Id);
        builder.Property(l => l.Id).ValueGeneratedNever();
        builder.Property(l => l.Cwd).HasMaxLength(Limits.Path);
        builder.Property(l => l.Name).HasMaxLength(Limits.Name);
        builder.Property(l => l.Status).StoredAsText(Limits.EnumText);
        builder.Property(l => l.RequestedBy).HasMaxLength(Limits.Actor);
        builder.Property(l => l.TmuxTarget).HasMaxLength(Limits.Actor);
        // Existing rows (and inserts that leave it out) get an empty list.
        builder.Property(l => l.ClaudeArgs).HasDefaultValueSql("'{}'::text[]");

        builder.HasIndex(l => new { l.MachineId, l.Status });

        builder.HasOne<Machine>().WithMany().HasForeignKey(l => l.MachineId).OnDelete(DeleteBehavior.Restrict);
        builder.HasOne<RelaySession>().WithMany().HasForeignKey(l => l.RelaySessionId).OnDelete(DeleteBehavior.SetNull);
    }
}
