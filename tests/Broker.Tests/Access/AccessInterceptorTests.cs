using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using Relay.Broker.Access;
using Relay.Broker.Tests.Infrastructure;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.Tests.Access;

[Collection(PostgresCollection.Name)]
public sealed class AccessInterceptorTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Enroll_OverRateLimit_ResourceExhausted()
    {
        await using var broker = await TestBroker.StartAsync(
            await postgres.DatabaseFor<AccessInterceptorTests>(), new Dictionary<string, string?> { ["Access:EnrollAttemptsPerMinute"] = "2" });
        var agent = new Protocol.V1.AgentLink.AgentLinkClient(broker.CreateChannel());
        var request = new EnrollRequest { EnrollmentToken = "relay_enr_guess", MachineName = "guesser" };

        for (var i = 0; i < 2; i++)
        {
            var guess = async () => await agent.EnrollAsync(request, deadline: AccessSeed.Deadline);
            (await guess.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.Unauthenticated);
        }

        var limited = async () => await agent.EnrollAsync(request, deadline: AccessSeed.Deadline);
        (await limited.Should().ThrowAsync<RpcException>()).Which.Should().Match<RpcException>(e =>
            e.StatusCode == StatusCode.ResourceExhausted && e.Status.Detail.Contains("limit 2 per minute"));
    }

    [Fact]
    public async Task Start_InvalidAccessOptions_FailsWithFixingMessage()
    {
        var database = await postgres.DatabaseFor<AccessInterceptorTests>();

        var act = async () => await TestBroker.StartAsync(database, new Dictionary<string, string?> { ["Access:CacheDuration"] = "00:00:00" });

        (await act.Should().ThrowAsync<OptionsValidationException>()).Which.Message.Should().Contain("Access:CacheDuration").And.Contain("between 00:00:01 and 00:05:00");
    }

    [Fact]
    public void IsDatabaseUnavailable_ConnectionFailuresOnly()
    {
        AccessInterceptor.IsDatabaseUnavailable(new NpgsqlException("connection refused")).Should().BeTrue();
        AccessInterceptor.IsDatabaseUnavailable(new PostgresException("shutting down", "FATAL", "FATAL", "57P01")).Should().BeTrue();
        AccessInterceptor.IsDatabaseUnavailable(new PostgresException("duplicate", "ERROR", "ERROR", "23505")).Should().BeFalse();
        AccessInterceptor.IsDatabaseUnavailable(new InvalidOperationException("bug")).Should().BeFalse();
    }

    [Fact]
    public async Task Interceptor_RevokedMachine_Unauthenticated()
    {
        await using var broker = await TestBroker.StartAsync(await postgres.DatabaseFor<AccessInterceptorTests>());
        var (machine, credential) = await AccessSeed.MachineAsync(broker.Database);
        var (_, admin) = await AccessSeed.TokenAsync(broker.Database, Role.Admin);
        await broker.Admin(admin).RevokeMachineAsync(new RevokeMachineRequest { Machine = machine.Name }, deadline: AccessSeed.Deadline);
        var interceptor = broker.Services.GetRequiredService<AccessInterceptor>();

        var act = () => interceptor.InterceptAsync(new FakeCallContext("/relay.v1.AgentLink/Connect", "Bearer " + credential, CancellationToken.None), _ => Task.CompletedTask);

        (await act.Should().ThrowAsync<RpcException>()).Which.Should().Match<RpcException>(e =>
            e.StatusCode == StatusCode.Unauthenticated && e.Status.Detail.Contains($"Machine '{machine.Name}' was revoked"));
    }
}
