using Relay.Interop.Tests.Client;
using Relay.Interop.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Relay.Interop.Tests;

/// <summary>Relay's client against the stock interop servers, which run once per class.</summary>
public abstract class RelayClientToStockServerTests
{
    private readonly PeerServerFixture _server;

    protected RelayClientToStockServerTests(PeerServerFixture server)
    {
        _server = server;
    }

    public static TheoryData<Transport, string> Cases() => InteropCases.ForRelayClient();

    [Theory]
    [MemberData(nameof(Cases), MemberType = typeof(RelayClientToStockServerTests))]
    public async Task InteropCase_RelayClientToStockServer_Passes(Transport transport, string caseName)
    {
        // The stock servers cannot see whether a request was compressed, so they cannot refuse the probe.
        using var client = new InteropClient(_server.Target(transport), serverChecksCompression: false);
        await client.RunAsync(caseName).WaitAsync(InteropCases.TestTimeout);
    }
}

/// <summary>Relay's client against grpc-core's server (python3-grpcio).</summary>
public sealed class RelayClientToPythonServerTests(PythonServerFixture server)
    : RelayClientToStockServerTests(server), IClassFixture<PythonServerFixture>;

/// <summary>Relay's client against grpc-js's server.</summary>
public sealed class RelayClientToNodeServerTests(NodeServerFixture server)
    : RelayClientToStockServerTests(server), IClassFixture<NodeServerFixture>;

/// <summary>Relay's client against Relay's server: the fast in-process baseline for every case.</summary>
public sealed class RelayClientToRelayServerTests : IClassFixture<RelayServerFixture>
{
    private readonly RelayServerFixture _server;

    public RelayClientToRelayServerTests(RelayServerFixture server, ITestOutputHelper output)
    {
        ArgumentNullException.ThrowIfNull(server);
        _server = server;
        server.Output = output;
    }

    public static TheoryData<Transport, string> Cases() => InteropCases.ForRelayClient();

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task InteropCase_RelayClientToRelayServer_Passes(Transport transport, string caseName)
    {
        using var client = new InteropClient(_server.Target(transport), serverChecksCompression: true);
        await client.RunAsync(caseName).WaitAsync(InteropCases.TestTimeout);
    }
}
