using Relay.Broker.AgentLink;
using Relay.Protocol.V1;

namespace Relay.Broker.Tests.AgentLink;

/// <summary>What bounds one stream's batch: AgentLink:MaxBatchMessages and AgentLink:MaxBatchBytes.</summary>
public sealed class BatchBoundsTests
{
    private readonly AgentLinkOptionsValidator _validator = new();

    [Fact]
    public void Validate_Defaults_SucceedAndTakeAWholeReceiveWindowInOneBatch()
    {
        var options = new AgentLinkOptions();

        _validator.Validate(null, options).Succeeded.Should().BeTrue();
        options.MaxBatchMessages.Should().BeGreaterThanOrEqualTo(options.ReceiveWindow);
    }

    [Theory]
    [InlineData(1024)]
    [InlineData(512 * 1024 * 1024)]
    public void Validate_MaxBatchBytesOutOfRange_SaysWhatToGive(int bytes)
    {
        var result = _validator.Validate(null, new AgentLinkOptions { MaxBatchBytes = bytes });

        result.Failed.Should().BeTrue();
        result.FailureMessage.Should().Contain("AgentLink:MaxBatchBytes is " + bytes).And.Contain("give a number between 65536 and 268435456");
    }

    [Fact]
    public void TryAppend_WithinBothBounds_JoinsTheBatch()
    {
        var items = new List<InboundItem> { Item(1_000) };
        var seal = new BatchSeal(items);

        seal.TryAppend([Item(1_000), Item(1_000)], maxItems: 3, maxBytes: 3_000).Should().BeTrue();

        items.Should().HaveCount(3);
    }

    [Fact]
    public void TryAppend_PastMaxBytes_RefusedAndTheBatchUnchanged()
    {
        var items = new List<InboundItem> { Item(40_000) };
        var seal = new BatchSeal(items);

        seal.TryAppend([Item(20_000), Item(10_000)], maxItems: 100, maxBytes: 65_536).Should().BeFalse();

        items.Should().ContainSingle();
        seal.TryAppend([Item(25_000)], maxItems: 100, maxBytes: 65_536).Should().BeTrue("what fits still joins");
    }

    [Fact]
    public void TryAppend_PastMaxItemsOrClosed_Refused()
    {
        var items = new List<InboundItem> { Item(10) };
        var seal = new BatchSeal(items);

        seal.TryAppend([Item(10), Item(10)], maxItems: 2, maxBytes: 65_536).Should().BeFalse();
        seal.Close();
        seal.TryAppend([Item(10)], maxItems: 2, maxBytes: 65_536).Should().BeFalse();

        items.Should().ContainSingle();
    }

    private static InboundItem Item(int size) =>
        new(new AgentMessage { Seq = 1, HookEvent = new HookEvent { RawJson = "{}" } }, Size: size);
}
