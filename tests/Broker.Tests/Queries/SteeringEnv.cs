using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Relay.Broker.Signals;
using Relay.Broker.Tests.Access;
using Relay.Broker.Tests.Infrastructure;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.Tests.Queries;

/// <summary>
/// A real broker on the test class's database with a viewer, an operator and an admin token, for the session steering
/// tests (queries, watch, prompts, approvals, launches). Calls go over real sockets.
/// </summary>
internal sealed class SteeringEnv : IAsyncDisposable
{
    private SteeringEnv(TestBroker broker, Protocol.V1.Admin.AdminClient viewer, Protocol.V1.Admin.AdminClient @operator, Guid operatorId, string operatorName)
    {
        Broker = broker;
        Viewer = viewer;
        Operator = @operator;
        OperatorTokenId = operatorId;
        OperatorName = operatorName;
    }

    public TestBroker Broker { get; }

    public TestDatabase Database => Broker.Database;

    public Protocol.V1.Admin.AdminClient Viewer { get; }

    public Protocol.V1.Admin.AdminClient Operator { get; }

    public Guid OperatorTokenId { get; }

    public string OperatorName { get; }

    public BrokerSignals Signals => Broker.Services.GetRequiredService<BrokerSignals>();

    public static async Task<SteeringEnv> StartAsync<TTest>(
        PostgresFixture postgres,
        IReadOnlyDictionary<string, string?>? settings = null,
        Action<WebApplicationBuilder>? configure = null,
        CancellationToken cancellationToken = default)
    {
        var database = await postgres.DatabaseFor<TTest>();
        var broker = await TestBroker.StartAsync(database, settings, configure, cancellationToken);
        var (_, viewer) = await AccessSeed.TokenAsync(database, Role.Viewer, cancellationToken: cancellationToken);
        var operatorName = "op-" + Guid.NewGuid().ToString("N")[..8];
        var (operatorId, @operator) = await AccessSeed.TokenAsync(database, Role.Operator, operatorName, cancellationToken);
        return new SteeringEnv(broker, broker.Admin(viewer), broker.Admin(@operator), operatorId, operatorName);
    }

    /// <summary>Call options with the test deadline.</summary>
    public static CallOptions Call(CancellationToken cancellationToken) => new(Deadline: AccessSeed.Deadline, CancellationToken: cancellationToken);

    public ValueTask DisposeAsync() => Broker.DisposeAsync();
}
