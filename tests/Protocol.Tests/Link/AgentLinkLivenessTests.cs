using Relay.Protocol.Link;

namespace Relay.Protocol.Tests.Link;

public sealed class AgentLinkLivenessTests
{
    [Theory]
    [InlineData(15, 45, 30)]
    [InlineData(2, 45, 23.5)]
    [InlineData(10, 11, 10.5)]
    [InlineData(10, 10, 10)]
    [InlineData(10, 5, 10)]
    public void OwnHeartbeatAfter_IntervalAndPeerTimeout_HalfwayBetweenThem(double intervalSeconds, double peerTimeoutSeconds, double expectedSeconds)
    {
        var after = AgentLinkLiveness.OwnHeartbeatAfter(TimeSpan.FromSeconds(intervalSeconds), TimeSpan.FromSeconds(peerTimeoutSeconds));

        after.Should().Be(TimeSpan.FromSeconds(expectedSeconds));
    }
}
