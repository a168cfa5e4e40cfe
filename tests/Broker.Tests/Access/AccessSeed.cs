using Relay.Broker.Access;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;
using Machine = Relay.Broker.Persistence.Entities.Machine;

namespace Relay.Broker.Tests.Access;

/// <summary>Credentials written straight into a test database: personal tokens of any role, enrolled machines.</summary>
internal static class AccessSeed
{
    /// <summary>A valid personal token with <paramref name="role"/>; returns its id and secret.</summary>
    public static async Task<(Guid Id, string Secret)> TokenAsync(TestDatabase database, Role role, string? name = null, CancellationToken cancellationToken = default)
    {
        var secret = Secrets.NewPersonalToken();
        var token = new ApiToken
        {
            Id = Guid.NewGuid(),
            Name = name ?? $"{role.Name()}-{Guid.NewGuid():N}"[..20],
            Role = role.ToTokenRole(),
            TokenHash = TokenHash.Compute(secret),
            CreatedBy = "system",
            CreatedAt = DateTimeOffset.UtcNow,
        };
        await using var db = database.CreateContext();
        db.ApiTokens.Add(token);
        await db.SaveChangesAsync(cancellationToken);
        return (token.Id, secret);
    }

    /// <summary>An enrolled machine with a valid credential.</summary>
    public static async Task<(Machine Machine, string Credential)> MachineAsync(TestDatabase database, string? name = null, CancellationToken cancellationToken = default)
    {
        var machine = new Machine { Id = Guid.NewGuid(), Name = name ?? "m-" + Guid.NewGuid().ToString("N")[..10], CreatedAt = DateTimeOffset.UtcNow };
        var credential = Secrets.NewMachineCredential();
        await using var db = database.CreateContext();
        db.Machines.Add(machine);
        db.MachineCredentials.Add(new MachineCredential
        {
            Id = Guid.NewGuid(),
            MachineId = machine.Id,
            TokenHash = TokenHash.Compute(credential),
            CreatedAt = DateTimeOffset.UtcNow,
        });
        await db.SaveChangesAsync(cancellationToken);
        return (machine, credential);
    }

    /// <summary>An Admin client whose calls carry <paramref name="secret"/>.</summary>
    public static Protocol.V1.Admin.AdminClient Admin(this TestBroker broker, string? secret) => new(broker.CreateChannel(secret));

    /// <summary>The deadline every test call gets.</summary>
    public static DateTime Deadline => DateTime.UtcNow + TestTimeout.Default;
}
