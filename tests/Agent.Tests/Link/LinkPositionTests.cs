using Relay.Agent.Link;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Agent.Tests.Link;

public sealed class LinkPositionTests
{
    [Fact]
    public void Save_Repeatedly_OverwritesOneSectorInPlaceAndLoadsTheLatest()
    {
        using var directory = new TempDirectory("rlp-");
        Directory.CreateDirectory(directory.Path);
        var path = Path.Combine(directory.Path, LinkPosition.FileName);
        new LinkPosition { BrokerEpoch = "epoch-1", LastBrokerSeq = 1 }.Save(directory.Path);

        for (ulong seq = 2; seq <= 50; seq++)
        {
            new LinkPosition { BrokerEpoch = "epoch-1", LastBrokerSeq = seq }.Save(directory.Path);
        }

        new FileInfo(path).Length.Should().Be(512, "the position is padded to one sector, so that it can be overwritten in place");
        LinkPosition.Load(directory.Path).Should().Be(new LinkPosition { BrokerEpoch = "epoch-1", LastBrokerSeq = 50 });
        File.Exists(path + ".tmp").Should().BeFalse("an overwrite in place needs no temporary file");
    }

    [Fact]
    public void Save_OverAFileOfAnotherSize_ReplacesIt()
    {
        using var directory = new TempDirectory("rlp-");
        Directory.CreateDirectory(directory.Path);
        var path = Path.Combine(directory.Path, LinkPosition.FileName);
        // The form older agents wrote: unpadded JSON.
        File.WriteAllText(path, """{ "broker_epoch": "old", "last_broker_seq": 7 }""");
        LinkPosition.Load(directory.Path).LastBrokerSeq.Should().Be(7);

        new LinkPosition { BrokerEpoch = "new", LastBrokerSeq = 8 }.Save(directory.Path);

        new FileInfo(path).Length.Should().Be(512);
        LinkPosition.Load(directory.Path).Should().Be(new LinkPosition { BrokerEpoch = "new", LastBrokerSeq = 8 });
    }

    [Fact]
    public void Load_Garbage_IsPositionZero()
    {
        using var directory = new TempDirectory("rlp-");
        Directory.CreateDirectory(directory.Path);
        File.WriteAllText(Path.Combine(directory.Path, LinkPosition.FileName), "{ \"broker_epoch\": \"e\", \"last_bro");

        LinkPosition.Load(directory.Path).Should().Be(new LinkPosition());
    }
}
