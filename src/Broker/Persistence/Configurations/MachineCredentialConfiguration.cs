using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Persistence.Configurations;

internal sealed class MachineCredentialConfiguration : IEntityTypeConfiguration<MachineCredential>
{
    public void Configure(EntityTypeBuilder<MachineCredential> builder)
    {
        builder.ToTable("machine_credentials", t => t.HasCheckConstraint(
            "ck_machine_credentials_token_hash_sha256", $"octet_length(token_hash) = {Limits.Sha256Bytes}"));
        builder.HasKey(c => c.Id);
        builder.Property(c => c.Id).ValueGeneratedNever();
        builder.Property(c => c.TokenHash).HasMaxLength(Limits.Sha256Bytes);
        builder.HasIndex(c => c.TokenHash).IsUnique();
        builder.HasIndex(c => c.MachineId);
        builder.HasOne<Machine>().WithMany().HasForeignKey(c => c.MachineId).OnDelete(DeleteBehavior.Cascade);
    }
}
