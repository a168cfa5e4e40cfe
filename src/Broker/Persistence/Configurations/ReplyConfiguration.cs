using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Persistence.Configurations;

internal sealed class ReplyConfiguration : IEntityTypeConfiguration<Reply>
{
    public void Configure(EntityTypeBuilder<Reply> builder)
    {
        builder.ToTable("replies");
        builder.HasKey(r => r.Id);
        builder.Property(r => r.Id).ValueGeneratedNever();
        builder.Property(r => r.Source).StoredAsText(Limits.EnumText);

        builder.HasGeneratedTsVectorColumn(r => r.SearchVector!, Limits.TextSearchConfig, r => new { r.Text })
            .HasIndex(r => r.SearchVector)
            .HasMethod("GIN");

        builder.HasIndex(r => new { r.RelaySessionId, r.CreatedAt });
        builder.HasIndex(r => r.PromptId);

        builder.HasOne<RelaySession>().WithMany().HasForeignKey(r => r.RelaySessionId).OnDelete(DeleteBehavior.Cascade);
        builder.HasOne<Prompt>().WithMany().HasForeignKey(r => r.PromptId).OnDelete(DeleteBehavior.SetNull);
    }
}
