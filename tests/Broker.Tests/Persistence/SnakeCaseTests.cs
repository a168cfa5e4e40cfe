using Relay.Broker.Persistence;

namespace Relay.Broker.Tests.Persistence;

public sealed class SnakeCaseTests
{
    [Theory]
    [InlineData("Id", "id")]
    [InlineData("WaitingForInput", "waiting_for_input")]
    [InlineData("LastOutboundSeqAcked", "last_outbound_seq_acked")]
    [InlineData("HTTPHook", "http_hook")]
    [InlineData("Sha256Bytes", "sha256_bytes")]
    public void From_PascalCase_GivesSnakeCase(string name, string expected)
    {
        SnakeCase.From(name).Should().Be(expected);
    }
}
