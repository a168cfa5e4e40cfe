using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Persistence.Configurations;

internal sealed class ApiTokenConfiguration : IEntityTypeConfiguration<ApiToken>
{
    public void Configure(EntityTypeBuilder<ApiToken> builder)
    {
        builder.ToTable("api_tokens", t => t.HasCheckConstraint(
            "ck_api_tokens_token_hash_sha256", $"octet_length(token_hash) = {Limits.Sha256Bytes}"));
        builder.HasKey(t => t.Id);
        builder.Property(t => t.Id).ValueGeneratedNever();
        builder.Property(t => t.Name).HasMaxLength(Limits.Name);
        builder.Property(t => t.Role).StoredAsText(Limits.EnumText);
        builder.Property(t => t.TokenHash).HasMaxLength(Limits.Sha256Bytes);
        builder.Property(t => t.CreatedBy).HasMaxLength(Limits.Actor);
        builder.HasIndex(t => t.TokenHash).IsUnique();
    }
}
