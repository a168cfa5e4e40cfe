using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Persistence.Configurations;

internal sealed class BriefingConfiguration : IEntityTypeConfiguration<Briefing>
{
    public void Configure(EntityTypeBuilder<Briefing> builder)
    {
        builder.ToTable("briefings");
        builder.HasKey(b => b.SessionName);
        builder.Property(b => b.SessionName).HasMaxLength(Limits.Name);
        builder.Property(b => b.UpdatedBy).HasMaxLength(Limits.Actor);
    }
}
