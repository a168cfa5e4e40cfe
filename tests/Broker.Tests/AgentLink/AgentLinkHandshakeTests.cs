using Relay.Broker.Tests.Infrastructure;
using Relay.Grpc;
using Relay.Protocol.V1;
using static Relay.Broker.Tests.AgentLink.AgentMessages;

namespace Relay.Broker.Tests.AgentLink;

[Collection(PostgresCollection.Name)]
public sealed class AgentLinkHandshakeTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Connect_ValidCredential_WelcomesWithPositionsAndMarksMachineOnline()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<AgentLinkHandshakeTests>();
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);

        var welcome = await agent.ConnectAsync(broker, timeout.Token);

        welcome.MachineId.Should().Be(agent.MachineId.ToString("D"));
        welcome.MachineName.Should().Be(agent.MachineName);
        welcome.LastAgentSeq.Should().Be(0);
        welcome.BrokerEpoch.Should().NotBeEmpty();
        welcome.ReceiveWindow.Should().BeGreaterThan(0);
        welcome.MaxMessageBytes.Should().BeGreaterThan(0);
        welcome.HeartbeatInterval.Should().NotBeNull();
        (await database.ScalarAsync<string>($"SELECT hostname FROM machines WHERE id = '{agent.MachineId}'", timeout.Token)).Should().Be("sim-host");
        (await database.ScalarAsync<bool>($"SELECT lease_holder IS NOT NULL AND lease_expires_at > now() FROM agent_link_state WHERE machine_id = '{agent.MachineId}'", timeout.Token))
            .Should().BeTrue("the machine is online while its stream holds the lease");
    }

    [Fact]
    public async Task Connect_HelloNamesAnotherMachine_PermissionDenied()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<AgentLinkHandshakeTests>();
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        await using var agentA = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await using var agentB = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);

        var act = () => agentA.ConnectAsync(broker, timeout.Token, machineIdInHello: agentB.MachineId.ToString("D"));

        (await act.Should().ThrowAsync<InvalidOperationException>()).Which.Message.Should().Contain("stream ended");
        (await agentA.Ended)!.StatusCode.Should().Be(StatusCode.PermissionDenied);
    }

    [Fact]
    public async Task Connect_UnknownCredential_Unauthenticated()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<AgentLinkHandshakeTests>();
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        var client = new Protocol.V1.AgentLink.AgentLinkClient(broker.CreateChannel("relay_mc_not-a-real-credential"));

        using var call = client.ConnectAsync(cancellationToken: timeout.Token);
        await call.RequestStream.WriteAsync(new AgentMessage { Hello = new Hello { MachineId = Guid.NewGuid().ToString("D"), SpoolEpoch = "e" } }, timeout.Token);
        var act = () => call.ResponseStream.MoveNext(timeout.Token);

        (await act.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.Unauthenticated);
    }

    [Fact]
    public async Task Connect_FirstMessageIsNotHello_InvalidArgument()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<AgentLinkHandshakeTests>();
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        var client = new Protocol.V1.AgentLink.AgentLinkClient(broker.CreateChannel(agent.Credential));

        using var call = client.ConnectAsync(cancellationToken: timeout.Token);
        var hook = Hook(Evidence(Guid.NewGuid()), "PreToolUse");
        hook.Seq = 1;
        await call.RequestStream.WriteAsync(hook, timeout.Token);
        var act = () => call.ResponseStream.MoveNext(timeout.Token);

        (await act.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.InvalidArgument);
    }
}
