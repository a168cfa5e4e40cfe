using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Tests.Infrastructure;

/// <summary>Minimal valid rows that other rows hang off.</summary>
internal static class Seed
{
    public static readonly DateTimeOffset Now = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    public static async Task<Machine> MachineAsync(TestDatabase database, CancellationToken cancellationToken)
    {
        var machine = new Machine { Id = Guid.NewGuid(), Name = "machine-" + Guid.NewGuid().ToString("N")[..8], CreatedAt = Now };
        await using var db = database.CreateContext();
        db.Machines.Add(machine);
        await db.SaveChangesAsync(cancellationToken);
        return machine;
    }

    public static async Task<RelaySession> SessionAsync(TestDatabase database, Machine machine, CancellationToken cancellationToken)
    {
        var session = new RelaySession
        {
            Id = Guid.NewGuid(),
            MachineId = machine.Id,
            Cwd = "/home/dev/project",
            Status = SessionStatus.Working,
            CreatedAt = Now,
            UpdatedAt = Now,
        };
        await using var db = database.CreateContext();
        db.Sessions.Add(session);
        await db.SaveChangesAsync(cancellationToken);
        return session;
    }

    public static ApiToken ApiToken(string rawToken) => new()
    {
        Id = Guid.NewGuid(),
        Name = "alice's laptop",
        Role = TokenRole.Operator,
        TokenHash = TokenHash.Compute(rawToken),
        CreatedBy = "token:bootstrap",
        CreatedAt = Now,
    };
}
