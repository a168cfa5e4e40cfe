using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Persistence.Configurations;

internal sealed class RelaySessionConfiguration : IEntityTypeConfiguration<RelaySession>
{
    public void Configure(EntityTypeBuilder<RelaySession> builder)
    {
        builder.ToTable("sessions");
        builder.HasKey(s => s.Id);
        builder.Property(s => s.Id).ValueGeneratedNever();
        builder.Property(s => s.Name).HasMaxLength(Limits.Name);
        builder.Property(s => s.Cwd).HasMaxLength(Limits.Path);
        builder.Property(s => s.ProjectDir).HasMaxLength(Limits.Path);
        builder.Property(s => s.Status).StoredAsText(Limits.EnumText);
        builder.Property(s => s.EndReason).HasMaxLength(Limits.Reason);
        builder.Property(s => s.ChannelId).HasMaxLength(Limits.IdempotencyKey);
        builder.Property(s => s.PermissionMode).HasMaxLength(Limits.EnumText);
        builder.Property(s => s.Model).HasMaxLength(Limits.Name);
        builder.Property(s => s.TmuxTarget).HasMaxLength(Limits.Actor);

        builder.HasOne<Machine>().WithMany().HasForeignKey(s => s.MachineId).OnDelete(DeleteBehavior.Restrict);

        // One launch is one session.
        builder.HasIndex(s => s.LaunchId).IsUnique().HasFilter("launch_id IS NOT NULL");
        // Lists by machine and status, and reconciliation by Claude process.
        builder.HasIndex(s => new { s.MachineId, s.Status });
        builder.HasIndex(s => new { s.MachineId, s.ClaudePid });
        builder.HasIndex(s => s.Name);
    }
}
