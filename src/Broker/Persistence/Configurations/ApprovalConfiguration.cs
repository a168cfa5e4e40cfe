using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Persistence.Configurations;

internal sealed class ApprovalConfiguration : IEntityTypeConfiguration<Approval>
{
    public void Configure(EntityTypeBuilder<Approval> builder)
    {
        builder.ToTable("approvals");
        builder.HasKey(a => a.Id);
        builder.Property(a => a.Id).ValueGeneratedNever();
        builder.Property(a => a.RequestId).HasMaxLength(Limits.RequestId);
        builder.Property(a => a.ToolName).HasMaxLength(Limits.ToolName);
        builder.Property(a => a.Description).HasMaxLength(Limits.Description);
        builder.Property(a => a.InputPreview).HasMaxLength(Limits.InputPreview);
        builder.Property(a => a.Status).StoredAsText(Limits.EnumText);
        builder.Property(a => a.Origin).StoredAsText(Limits.EnumText);
        builder.Property(a => a.DecidedBy).HasMaxLength(Limits.Actor);
        builder.Property(a => a.Reason).HasMaxLength(Limits.Reason);
        builder.Property(a => a.Version).IsRowVersion().HasColumnName("xmin"); // PostgreSQL's system column, not created

        // Claude Code's five-letter request ids may repeat within a long session; the approval id is the key.
        builder.HasIndex(a => new { a.RelaySessionId, a.RequestId });
        builder.HasIndex(a => new { a.Status, a.ExpiresAt });

        builder.HasOne<RelaySession>().WithMany().HasForeignKey(a => a.RelaySessionId).OnDelete(DeleteBehavior.Cascade);
    }
}
