using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Persistence.Configurations;

internal sealed class StopRequestConfiguration : IEntityTypeConfiguration<StopRequest>
{
    public void Configure(EntityTypeBuilder<StopRequest> builder)
    {
        builder.ToTable("stop_requests");
        builder.HasKey(s => s.Id);
        builder.Property(s => s.Id).ValueGeneratedNever();
        builder.Property(s => s.Reason).HasMaxLength(Limits.Reason);
        builder.Property(s => s.RequestedBy).HasMaxLength(Limits.Actor);
        builder.Property(s => s.Error).HasMaxLength(Limits.Reason);

        // The outbox filler looks for a machine's unsent requests.
        builder.HasIndex(s => new { s.MachineId, s.SentAt });
        builder.HasIndex(s => s.RelaySessionId);

        builder.HasOne<Machine>().WithMany().HasForeignKey(s => s.MachineId).OnDelete(DeleteBehavior.Cascade);
        builder.HasOne<RelaySession>().WithMany().HasForeignKey(s => s.RelaySessionId).OnDelete(DeleteBehavior.Cascade);
    }
}
