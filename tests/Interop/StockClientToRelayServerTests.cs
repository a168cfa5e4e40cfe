using Relay.Interop.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Relay.Interop.Tests;

/// <summary>
/// Stock clients (grpc-core, grpc-js) against Relay's server, one client process per case so a failure
/// names its case and nothing carries over between cases.
/// </summary>
public abstract class StockClientToRelayServerTests
{
    private readonly Peer _peer;
    private readonly RelayServerFixture _server;
    private readonly ITestOutputHelper _output;

    protected StockClientToRelayServerTests(Peer peer, RelayServerFixture server, ITestOutputHelper output)
    {
        ArgumentNullException.ThrowIfNull(server);
        _peer = peer;
        _server = server;
        _output = output;
        server.Output = output;
    }

    public static TheoryData<Transport, string> Cases() => InteropCases.ForStockClients();

    [Theory]
    [MemberData(nameof(Cases), MemberType = typeof(StockClientToRelayServerTests))]
    public async Task InteropCase_StockClientToRelayServer_Passes(Transport transport, string caseName)
    {
        var run = await RunAsync(transport, caseName);

        run.Results.Should().ContainSingle(r => r.Case == caseName, run.Describe())
            .Which.Ok.Should().BeTrue(run.Describe());
        run.ExitCode.Should().Be(0, run.Describe());
    }

    [Theory]
    [InlineData(Transport.Tcp)]
    [InlineData(Transport.Unix)]
    public async Task Reflection_StockClientListsServices_FindsEveryMappedService(Transport transport)
    {
        var run = await RunAsync(transport, "reflection");

        var result = run.Results.Should().ContainSingle(r => r.Case == "reflection", run.Describe()).Which;
        result.Ok.Should().BeTrue(run.Describe());
        result.Services.Should().BeEquivalentTo(InteropCases.RelayServerServices, run.Describe());
        run.ExitCode.Should().Be(0, run.Describe());
    }

    private async Task<PeerClientRun> RunAsync(Transport transport, string caseName)
    {
        var target = _server.Target(transport);
        _output.WriteLine($"{_peer} interop_client --target {target} --case {caseName}");
        var run = await PeerClient.RunAsync(_peer, target, caseName).WaitAsync(InteropCases.TestTimeout);
        _output.WriteLine(run.Describe());
        return run;
    }
}

/// <summary>grpc-core (python3-grpcio) clients against Relay's server.</summary>
public sealed class PythonClientToRelayServerTests(RelayServerFixture server, ITestOutputHelper output)
    : StockClientToRelayServerTests(Peer.Python, server, output), IClassFixture<RelayServerFixture>;

/// <summary>grpc-js clients against Relay's server.</summary>
public sealed class NodeClientToRelayServerTests(RelayServerFixture server, ITestOutputHelper output)
    : StockClientToRelayServerTests(Peer.Node, server, output), IClassFixture<RelayServerFixture>;
