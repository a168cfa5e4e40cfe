using Microsoft.EntityFrameworkCore;
using Relay.Broker.Persistence.Configurations;
using Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Persistence;

/// <summary>The broker's PostgreSQL schema. Each entity's mapping is in its own configuration class.</summary>
internal sealed class RelayDbContext(DbContextOptions<RelayDbContext> options) : DbContext(options)
{
    /// <summary>
    /// While set, opening the connection throws <see cref="OfflineAccessException"/> (OfflineGuard): nothing may be read
    /// yet. Whoever sets it clears it before the context goes back to the pool.
    /// </summary>
    internal bool Offline { get; set; }

    public DbSet<Machine> Machines => Set<Machine>();

    public DbSet<MachineCredential> MachineCredentials => Set<MachineCredential>();

    public DbSet<EnrolmentToken> EnrolmentTokens => Set<EnrolmentToken>();

    public DbSet<ApiToken> ApiTokens => Set<ApiToken>();

    public DbSet<RelaySession> Sessions => Set<RelaySession>();

    public DbSet<SessionSegment> SessionSegments => Set<SessionSegment>();

    public DbSet<EventRecord> Events => Set<EventRecord>();

    public DbSet<Prompt> Prompts => Set<Prompt>();

    public DbSet<Reply> Replies => Set<Reply>();

    public DbSet<Approval> Approvals => Set<Approval>();

    public DbSet<Launch> Launches => Set<Launch>();

    public DbSet<Briefing> Briefings => Set<Briefing>();

    public DbSet<PolicyEntry> Policy => Set<PolicyEntry>();

    public DbSet<AuditEntry> AuditLog => Set<AuditEntry>();

    public DbSet<AgentLinkState> AgentLinkStates => Set<AgentLinkState>();

    public DbSet<StopRequest> StopRequests => Set<StopRequest>();

    public DbSet<OutboxMessage> Outbox => Set<OutboxMessage>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder
            .ApplyConfiguration(new MachineConfiguration())
            .ApplyConfiguration(new MachineCredentialConfiguration())
            .ApplyConfiguration(new EnrolmentTokenConfiguration())
            .ApplyConfiguration(new ApiTokenConfiguration())
            .ApplyConfiguration(new RelaySessionConfiguration())
            .ApplyConfiguration(new SessionSegmentConfiguration())
            .ApplyConfiguration(new EventRecordConfiguration())
            .ApplyConfiguration(new PromptConfiguration())
            .ApplyConfiguration(new ReplyConfiguration())
            .ApplyConfiguration(new ApprovalConfiguration())
            .ApplyConfiguration(new LaunchConfiguration())
            .ApplyConfiguration(new BriefingConfiguration())
            .ApplyConfiguration(new PolicyEntryConfiguration())
            .ApplyConfiguration(new AuditEntryConfiguration())
            .ApplyConfiguration(new AgentLinkStateConfiguration())
            .ApplyConfiguration(new StopRequestConfiguration())
            .ApplyConfiguration(new OutboxMessageConfiguration());

        modelBuilder.ApplySnakeCaseNames();
    }
}
