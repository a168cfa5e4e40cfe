using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Persistence.Configurations;

internal sealed class EnrolmentTokenConfiguration : IEntityTypeConfiguration<EnrolmentToken>
{
    public void Configure(EntityTypeBuilder<EnrolmentToken> builder)
    {
        builder.ToTable("enrolment_tokens", t => t.HasCheckConstraint(
            "ck_enrolment_tokens_token_hash_sha256", $"octet_length(token_hash) = {Limits.Sha256Bytes}"));
        builder.HasKey(t => t.Id);
        builder.Property(t => t.Id).ValueGeneratedNever();
        builder.Property(t => t.MachineName).HasMaxLength(Limits.Name);
        builder.Property(t => t.TokenHash).HasMaxLength(Limits.Sha256Bytes);
        builder.Property(t => t.CreatedBy).HasMaxLength(Limits.Actor);
        builder.HasIndex(t => t.TokenHash).IsUnique();
        builder.HasOne<Machine>().WithMany().HasForeignKey(t => t.MachineId).OnDelete(DeleteBehavior.SetNull);
    }
}
