using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Persistence.Configurations;

internal sealed class PromptConfiguration : IEntityTypeConfiguration<Prompt>
{
    public void Configure(EntityTypeBuilder<Prompt> builder)
    {
        builder.ToTable("prompts");
        builder.HasKey(p => p.Id);
        builder.Property(p => p.Id).ValueGeneratedNever();
        builder.Property(p => p.IdempotencyKey).HasMaxLength(Limits.IdempotencyKey);
        builder.Property(p => p.SenderKind).StoredAsText(Limits.EnumText);
        builder.Property(p => p.SenderId).HasMaxLength(Limits.Name);
        builder.Property(p => p.SenderName).HasMaxLength(Limits.Actor);
        builder.Property(p => p.Status).StoredAsText(Limits.EnumText);
        builder.Property(p => p.DeliveryPath).StoredAsText(Limits.EnumText);
        builder.Property(p => p.FailureReason).HasMaxLength(Limits.Reason);
        builder.Property(p => p.Version).IsRowVersion().HasColumnName("xmin"); // PostgreSQL's system column, not created

        builder.HasGeneratedTsVectorColumn(p => p.SearchVector!, Limits.TextSearchConfig, p => new { p.Text })
            .HasIndex(p => p.SearchVector)
            .HasMethod("GIN");

        // Idempotency is per sender: a retry finds its prompt, another sender's key never matches.
        builder.HasIndex(p => new { p.SenderKind, p.SenderId, p.IdempotencyKey }).IsUnique();
        builder.HasIndex(p => new { p.RelaySessionId, p.CreatedAt });
        // Every session read counts the session's open prompts (SessionSql): only those, not every prompt it ever had.
        builder.HasIndex(p => p.RelaySessionId).HasFilter("status IN ('queued', 'sent')");
        // Redelivery after reconnect and the expiry sweep look for open prompts.
        builder.HasIndex(p => new { p.Status, p.ExpiresAt });

        builder.HasOne<RelaySession>().WithMany().HasForeignKey(p => p.RelaySessionId).OnDelete(DeleteBehavior.Cascade);
        builder.HasOne<Prompt>().WithMany().HasForeignKey(p => p.InReplyTo).OnDelete(DeleteBehavior.SetNull);
    }
}
