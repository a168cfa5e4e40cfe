using Relay.Interop.Tests.Client;
using Relay.Interop.Tests.Infrastructure;

namespace Relay.Interop.Tests;

/// <summary>Theory data: every interop case over every transport.</summary>
internal static class InteropCases
{
    /// <summary>The cases the stock clients run against Relay's server (their <c>all</c> plus health).</summary>
    public static readonly IReadOnlyList<string> StockClientCases =
    [
        "empty_unary", "large_unary", "client_streaming", "server_streaming", "ping_pong", "empty_stream",
        "cancel_after_begin", "cancel_after_first_response", "timeout_on_sleeping_server",
        "status_code_and_message", "special_status_message", "custom_metadata",
        "unimplemented_method", "unimplemented_service", "compressed_unary", "health",
    ];

    /// <summary>Services Relay's interop server maps, which reflection must list.</summary>
    public static readonly IReadOnlyList<string> RelayServerServices =
    [
        "grpc.testing.TestService", "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection",
    ];

    /// <summary>A case's own limit is 10 s (its deadline); this bounds a whole test, set-up included.</summary>
    public static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(40);

    public static TheoryData<Transport, string> Over(IEnumerable<string> cases)
    {
        var data = new TheoryData<Transport, string>();
        foreach (var transport in Enum.GetValues<Transport>())
        {
            foreach (var name in cases)
            {
                data.Add(transport, name);
            }
        }

        return data;
    }

    public static TheoryData<Transport, string> ForStockClients() => Over(StockClientCases);

    public static TheoryData<Transport, string> ForRelayClient() => Over(InteropClient.Cases);
}
