using Relay.Broker.Tests.Infrastructure;

namespace Relay.Broker.Tests.AgentLink;

/// <summary>
/// A real broker on the test class's database with one enrolled simulated agent connected to it. xunit makes
/// a new instance per test, so every test starts with a fresh broker and a fresh machine.
/// </summary>
public abstract class ConnectedAgentTest<TTest>(PostgresFixture postgres) : IAsyncLifetime
{
    private CancellationTokenSource _timeout = null!;

    private protected TestDatabase Database { get; private set; } = null!;

    private protected TestBroker Host { get; private set; } = null!;

    private protected SimulatedAgent Agent { get; private set; } = null!;

    private protected CancellationToken Token => _timeout.Token;

    public async Task InitializeAsync()
    {
        _timeout = TestTimeout.Start();
        Database = await postgres.DatabaseFor<TTest>();
        Host = await TestBroker.StartAsync(Database, cancellationToken: Token);
        Agent = await SimulatedAgent.EnrollAsync(Database, cancellationToken: Token);
        await Agent.ConnectAsync(Host, Token);
    }

    public async Task DisposeAsync()
    {
        await Agent.DisposeAsync();
        await Host.DisposeAsync();
        _timeout.Dispose();
    }
}
