using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Persistence.Configurations;

internal sealed class SessionSegmentConfiguration : IEntityTypeConfiguration<SessionSegment>
{
    public void Configure(EntityTypeBuilder<SessionSegment> builder)
    {
        builder.ToTable("session_segments");
        // A Claude session id belongs to exactly one Relay session.
        builder.HasKey(s => s.ClaudeSessionId);
        builder.Property(s => s.ClaudeSessionId).ValueGeneratedNever();
        builder.Property(s => s.Source).StoredAsText(Limits.EnumText);
        builder.Property(s => s.TranscriptPath).HasMaxLength(Limits.Path);
        builder.HasIndex(s => new { s.RelaySessionId, s.Ordinal }).IsUnique();
        builder.HasOne<RelaySession>().WithMany().HasForeignKey(s => s.RelaySessionId).OnDelete(DeleteBehavior.Cascade);
    }
}
