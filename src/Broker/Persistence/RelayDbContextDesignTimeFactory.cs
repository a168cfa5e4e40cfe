using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Relay.Broker.Persistence;

/// <summary>
/// Lets EF Core's design-time tools build the model without starting the broker. Adding a migration needs no
/// database; the connection string below is never opened. See Migrations/README.md for how migrations are made here.
/// </summary>
internal sealed class RelayDbContextDesignTimeFactory : IDesignTimeDbContextFactory<RelayDbContext>
{
    public RelayDbContext CreateDbContext(string[] args)
    {
        var builder = new DbContextOptionsBuilder<RelayDbContext>();
        builder.UseRelayNpgsql("Host=localhost;Database=relay");
        return new RelayDbContext(builder.Options);
    }
}
