using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Persistence.Ingest;
using Relay.Broker.Postgres;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Broker.Tests.Persistence;

/// <summary>The registration the broker's Program uses, in a real host.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PersistenceServicesTests(PostgresFixture postgres)
{
    // The registered services are IAsyncDisposable only, as in the broker, which disposes its host asynchronously.
    private static TestHost BuildHost(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddRelayPersistence();
        return new TestHost(builder.Build());
    }

    private sealed class TestHost(IHost host) : IAsyncDisposable
    {
        public IServiceProvider Services => host.Services;

        public Task StartAsync(CancellationToken cancellationToken) => host.StartAsync(cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => host.StopAsync(cancellationToken);

        public ValueTask DisposeAsync() => ((IAsyncDisposable)host).DisposeAsync();
    }

    [Fact]
    public async Task StartAsync_ConfiguredConnectionString_MigratesAndIngests()
    {
        using var timeout = TestTimeout.Start();
        await using var database = await postgres.CreateDatabaseAsync(migrate: false, timeout.Token);
        await using var host = BuildHost(new() { ["Database:ConnectionString"] = database.ConnectionString });

        await host.StartAsync(timeout.Token);
        var machine = await Seed.MachineAsync(database, timeout.Token);
        var stored = await host.Services.GetRequiredService<EventIngestWriter>()
            .WriteAsync([new IngestEvent(machine.Id, Guid.NewGuid(), 1, EventKind.AgentConnected, Seed.Now, "{}")], timeout.Token);
        await host.StopAsync(timeout.Token);

        stored.Should().ContainSingle();
        host.Services.GetRequiredService<RelayDatabase>().IsEmbedded.Should().BeFalse();
    }

    [Theory]
    [InlineData("", 64)]
    [InlineData(";Max Auto Prepare=0", 0)]
    [InlineData(";maxautoprepare=7", 7)]
    public async Task ConnectionString_MaxAutoPrepare_DefaultsTo64UnlessConfigured(string extra, int expected)
    {
        using var timeout = TestTimeout.Start();
        await using var database = await postgres.CreateDatabaseAsync(migrate: false, timeout.Token);
        await using var host = BuildHost(new() { ["Database:ConnectionString"] = database.ConnectionString + extra });

        var effective = new Npgsql.NpgsqlConnectionStringBuilder(host.Services.GetRequiredService<RelayDatabase>().ConnectionString);

        effective.MaxAutoPrepare.Should().Be(expected);
    }

    [Theory]
    [InlineData("", true)]
    [InlineData(";No Reset On Close=false", false)]
    [InlineData(";noresetonclose=true", true)]
    public async Task ConnectionString_NoResetOnClose_DefaultsToTrueUnlessConfigured(string extra, bool expected)
    {
        using var timeout = TestTimeout.Start();
        await using var database = await postgres.CreateDatabaseAsync(migrate: false, timeout.Token);
        await using var host = BuildHost(new() { ["Database:ConnectionString"] = database.ConnectionString + extra });

        var effective = new Npgsql.NpgsqlConnectionStringBuilder(host.Services.GetRequiredService<RelayDatabase>().ConnectionString);

        effective.NoResetOnClose.Should().Be(expected);
    }

    [Fact]
    public async Task StartAsync_NoConnectionString_RunsMigratedEmbeddedClusterAndStopsIt()
    {
        using var timeout = TestTimeout.Start();
        using var directory = new TempDirectory();
        await using var host = BuildHost(new() { ["Database:Embedded:DataDirectory"] = directory.Path });

        await host.StartAsync(timeout.Token);
        await using (var db = await host.Services.GetRequiredService<IDbContextFactory<RelayDbContext>>().CreateDbContextAsync(timeout.Token))
        {
            db.Machines.Add(new Machine { Id = Guid.NewGuid(), Name = "build-01", CreatedAt = Seed.Now });
            await db.SaveChangesAsync(timeout.Token);
            (await db.Database.GetPendingMigrationsAsync(timeout.Token)).Should().BeEmpty();
        }

        await host.StopAsync(timeout.Token);

        host.Services.GetRequiredService<EmbeddedPostgres>().IsRunning.Should().BeFalse();
        File.Exists(Path.Combine(directory.Path, "postgres", "data", "PG_VERSION")).Should().BeTrue();
    }

    [Fact]
    public async Task StartAsync_MalformedConnectionString_FailsValidationWithAHint()
    {
        using var timeout = TestTimeout.Start();
        await using var host = BuildHost(new() { ["Database:ConnectionString"] = "this is not a connection string" });

        var start = () => host.StartAsync(timeout.Token);

        (await start.Should().ThrowAsync<OptionsValidationException>()).WithMessage("*Database:ConnectionString*Host=*");
    }
}
