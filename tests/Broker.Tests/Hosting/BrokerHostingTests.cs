using Grpc.Health.V1;
using Relay.Broker.Tests.Infrastructure;
using Relay.Grpc;

namespace Relay.Broker.Tests.Hosting;

[Collection(PostgresCollection.Name)]
public sealed class BrokerHostingTests(PostgresFixture postgres)
{
    private static readonly Method<HealthCheckRequest, HealthCheckResponse> Check = new(
        MethodType.Unary, "grpc.health.v1.Health", "Check", Marshallers.Protobuf(HealthCheckRequest.Parser), Marshallers.Protobuf(HealthCheckResponse.Parser));

    [Fact]
    public async Task StartAsync_WithDatabase_ServesHealthOverGrpc()
    {
        var database = await postgres.DatabaseFor<BrokerHostingTests>();
        await using var broker = await TestBroker.StartAsync(database);
        var invoker = broker.CreateChannel().CreateCallInvoker();

        var response = await invoker.AsyncUnaryCall(Check, new CallOptions(Deadline: DateTime.UtcNow + TestTimeout.Default), new HealthCheckRequest());

        response.Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
    }
}
