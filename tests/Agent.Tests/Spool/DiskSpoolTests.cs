using System.Globalization;
using Relay.Agent.Spool;
using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;
using static Relay.Agent.Tests.Spool.SpoolTestSupport;

namespace Relay.Agent.Tests.Spool;

public sealed class DiskSpoolTests : IDisposable
{
    private readonly TempDirectory _directory = new("relay-spool-");

    [Fact]
    public async Task AppendAsync_ThenReadAfter_ReturnsMessagesInSeqOrder()
    {
        using var timeout = TestTimeout.Start();
        await using var spool = Open(_directory.Path);

        var first = await spool.AppendAsync(Hook("e1"), timeout.Token);
        var second = await spool.AppendAsync(Reply("r1"), timeout.Token);
        var third = await spool.AppendAsync(Hook("e2"), timeout.Token);

        (first, second, third).Should().Be((1UL, 2UL, 3UL));
        spool.NextSeq.Should().Be(4);
        ReadAll(spool).Select(m => (m.Seq, Id(m))).Should().Equal((1UL, "e1"), (2UL, "r1"), (3UL, "e2"));
        spool.ReadAfter(1, 1).Select(Id).Should().Equal("r1");
        spool.Stats.Items.Should().Be(3);
        spool.Stats.OldestItemAt.Should().NotBeNull();
    }

    [Fact]
    public async Task AppendAsync_UnsequencedMessage_IsRefused()
    {
        await using var spool = Open(_directory.Path);

        var append = async () => await spool.AppendAsync(new AgentMessage { Ack = new Ack { Seq = 1 } }, CancellationToken.None);

        await append.Should().ThrowAsync<ArgumentException>().WithMessage("*sequenced*");
    }

    [Fact]
    public async Task AcknowledgeAsync_AllAcked_RemovesItemsAndDeletesSegments()
    {
        using var timeout = TestTimeout.Start();
        await using var spool = Open(_directory.Path, segmentBytes: 4096);
        for (var i = 0; i < 100; i++)
        {
            await spool.AppendAsync(Hook("e" + i, padding: 200), timeout.Token);
        }

        SegmentFiles(_directory.Path).Length.Should().BeGreaterThan(3, "about 300 bytes a record and 4 KiB segments");

        await spool.AcknowledgeAsync(60, timeout.Token);

        ReadAll(spool).First().Seq.Should().Be(61);
        spool.Stats.Items.Should().Be(40);
        SegmentFiles(_directory.Path).Length.Should().BeLessThan(12);

        await spool.AcknowledgeAsync(100, timeout.Token);
        ReadAll(spool).Should().BeEmpty();
        spool.Stats.Items.Should().Be(0);
        spool.Stats.OldestItemAt.Should().BeNull();
        SegmentFiles(_directory.Path).Length.Should().BeLessThanOrEqualTo(1, "only the segment being written may stay");

        (await spool.AppendAsync(Hook("after"), timeout.Token)).Should().Be(101);
        SegmentFiles(_directory.Path).Should().ContainSingle("the fully acknowledged segment is replaced and deleted");
    }

    [Fact]
    public async Task WaitForMessagesAfterAsync_CompletesWhenAnItemArrives()
    {
        using var timeout = TestTimeout.Start();
        await using var spool = Open(_directory.Path);
        await spool.AppendAsync(Hook("e1"), timeout.Token);

        await spool.WaitForMessagesAfterAsync(0, timeout.Token);
        var waiting = spool.WaitForMessagesAfterAsync(1, timeout.Token).AsTask();
        waiting.IsCompleted.Should().BeFalse();
        await spool.AppendAsync(Hook("e2"), timeout.Token);

        await waiting.WaitAsync(timeout.Token);
    }

    [Fact]
    public async Task Reopen_KeepsEpochUnackedItemsAndNextSeq()
    {
        using var timeout = TestTimeout.Start();
        string epoch;
        await using (var spool = Open(_directory.Path))
        {
            epoch = spool.Epoch;
            for (var i = 1; i <= 5; i++)
            {
                await spool.AppendAsync(Reply("r" + i), timeout.Token);
            }

            await spool.AcknowledgeAsync(2, timeout.Token);
        }

        await using var reopened = Open(_directory.Path);

        reopened.Epoch.Should().Be(epoch);
        reopened.NextSeq.Should().Be(6);
        reopened.AckedSeq.Should().Be(2);
        ReadAll(reopened).Select(Id).Should().Equal("r3", "r4", "r5");
        (await reopened.AppendAsync(Reply("r6"), timeout.Token)).Should().Be(6);
    }

    [Fact]
    public async Task Open_NewDirectory_GetsItsOwnEpoch()
    {
        using var other = new TempDirectory("relay-spool-");
        await using var first = Open(_directory.Path);
        await using var second = Open(other.Path);

        first.Epoch.Should().NotBeNullOrEmpty().And.NotBe(second.Epoch);
        File.Exists(Path.Combine(_directory.Path, SpoolMeta.FileName)).Should().BeTrue();
    }

    [Fact]
    public async Task Reopen_AllAckedAndSegmentsGone_ContinuesTheSequence()
    {
        using var timeout = TestTimeout.Start();
        await using (var spool = Open(_directory.Path))
        {
            await spool.AppendAsync(Hook("e1"), timeout.Token);
            await spool.AppendAsync(Hook("e2"), timeout.Token);
            await spool.AcknowledgeAsync(2, timeout.Token);
        }

        await using var reopened = Open(_directory.Path);

        reopened.NextSeq.Should().Be(3, "seqs never repeat within an epoch, even when every segment was deleted");
        ReadAll(reopened).Should().BeEmpty();
    }

    [Theory]
    [InlineData(3, false)]   // inside the last record's header, the file cut there
    [InlineData(20, false)]  // inside its body
    [InlineData(3, true)]    // the same inside the preallocated zeros: the rest of the record never reached the disk
    [InlineData(20, true)]
    public async Task Reopen_TornTail_CutsTheIncompleteRecordAndKeepsTheRest(int keepBytesOfLastRecord, bool inPlace)
    {
        using var timeout = TestTimeout.Start();
        long lastRecordStart;
        await using (var spool = Open(_directory.Path))
        {
            for (var i = 1; i <= 9; i++)
            {
                await spool.AppendAsync(Hook("e" + i, padding: 50), timeout.Token);
            }

            await spool.AppendAsync(Hook("e10", padding: 50), timeout.Token);
        }

        var segment = SegmentFiles(_directory.Path).Single();
        lastRecordStart = RecordStarts(segment, out var recordsEnd)[^1];
        if (inPlace)
        {
            ZeroBytes(segment, lastRecordStart + keepBytesOfLastRecord, (int)(recordsEnd - lastRecordStart - keepBytesOfLastRecord));
        }
        else
        {
            using var file = new FileStream(segment, FileMode.Open);
            file.SetLength(lastRecordStart + keepBytesOfLastRecord);
        }

        await using var reopened = Open(_directory.Path);

        ReadAll(reopened).Select(Id).Should().Equal(Enumerable.Range(1, 9).Select(i => "e" + i));
        (await reopened.AppendAsync(Hook("e10-again", padding: 50), timeout.Token)).Should().Be(10);
        ReadAll(reopened).Select(Id).Last().Should().Be("e10-again");
        await reopened.DisposeAsync();
        RecordStarts(segment, out var endAfter).Should().HaveCount(10).And.EndWith(lastRecordStart);
        IsZeroFrom(segment, endAfter).Should().BeTrue("the torn bytes were cut and the segment preallocated again");
        new FileInfo(segment).Length.Should().Be(1024 * 1024, "preallocated to the segment size");
    }

    [Fact]
    public async Task Reopen_GarbageAfterLastRecord_IsCutAsTornTail()
    {
        using var timeout = TestTimeout.Start();
        await using (var spool = Open(_directory.Path))
        {
            await spool.AppendAsync(Reply("r1"), timeout.Token);
        }

        var segment = SegmentFiles(_directory.Path).Single();
        var recordsEnd = RecordsEnd(segment);
        await File.AppendAllTextAsync(segment, "\u0040\0\0\0garbage that is not a record", timeout.Token);

        await using var reopened = Open(_directory.Path);

        ReadAll(reopened).Select(Id).Should().Equal("r1");
        await reopened.DisposeAsync();
        RecordsEnd(segment).Should().Be(recordsEnd);
        IsZeroFrom(segment, recordsEnd).Should().BeTrue("the garbage was cut");
    }

    [Fact]
    public async Task Append_SpoolFull_DropsOldestHookEventsOnlyAndRecordsEventsDropped()
    {
        using var timeout = TestTimeout.Start();
        await using var spool = Open(_directory.Path, maxBytes: 16 * 1024, segmentBytes: 4096);
        // Interleaved: a reply after every third hook event. About 1 KiB per item: the bound holds about sixteen.
        var appended = new List<string>();
        for (var i = 0; i < 40; i++)
        {
            var id = i % 4 == 3 ? "r" + i : "e" + i;
            await spool.AppendAsync(id.StartsWith('r') ? Reply(id, padding: 900) : Hook(id, padding: 900), timeout.Token);
            appended.Add(id);
        }

        var left = ReadAll(spool);
        var dropNotes = left.Where(m => m.BodyCase == AgentMessage.BodyOneofCase.EventsDropped).Select(m => m.EventsDropped).ToList();
        var keptIds = left.Select(Id).ToHashSet();

        appended.Where(id => id.StartsWith('r')).Should().OnlyContain(id => keptIds.Contains(id), "replies are never dropped");
        dropNotes.Should().NotBeEmpty();
        var droppedIds = appended.Where(id => !keptIds.Contains(id)).ToList();
        droppedIds.Should().OnlyContain(id => id.StartsWith('e'));
        dropNotes.Sum(d => (long)d.DroppedCount).Should().Be(droppedIds.Count);
        spool.Stats.DroppedTotal.Should().Be((ulong)droppedIds.Count);
        // The oldest hook events went first: every kept hook event is newer than every dropped one.
        droppedIds.Max(N).Should().BeLessThan(left.Where(m => m.BodyCase == AgentMessage.BodyOneofCase.HookEvent).Min(m => N(Id(m))));
        // Each note's range covers exactly hook events that are gone, and the seqs of the dropped ones.
        foreach (var note in dropNotes)
        {
            left.Should().NotContain(m => m.BodyCase == AgentMessage.BodyOneofCase.HookEvent && m.Seq >= note.FirstSeq && m.Seq <= note.LastSeq);
            note.FirstSeq.Should().BeLessThanOrEqualTo(note.LastSeq);
            note.FirstSpooledAt.Should().NotBeNull();
        }

        dropNotes.Min(d => d.FirstSeq).Should().Be(1, "e0, the oldest, went first");
        // Seqs still grow in order and each note follows the items it drops.
        left.Select(m => m.Seq).Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
        spool.Stats.Items.Should().Be((ulong)left.Count);
    }

    [Fact]
    public async Task Append_SpoolFullOfReplies_RefusesHookEventAtOnceButKeepsReplies()
    {
        using var timeout = TestTimeout.Start();
        await using var spool = Open(_directory.Path, maxBytes: 16 * 1024, segmentBytes: 4096);
        for (var i = 0; i < 20; i++)
        {
            await spool.AppendAsync(Reply("r" + i, padding: 900), timeout.Token);
        }

        var hook = async () => await spool.AppendAsync(Hook("late", padding: 900), timeout.Token);

        await hook.Should().ThrowAsync<SpoolFullException>().WithMessage("*full*never dropped*Agent:Spool:MaxBytes*");
        var seq = await spool.AppendAsync(Reply("beyond", padding: 900), timeout.Token);
        seq.Should().Be(21, "a refused hook event takes no seq");
        ReadAll(spool).Select(Id).Should().HaveCount(21).And.Contain("beyond").And.NotContain("late");
        ((long)spool.Stats.Bytes).Should().BeGreaterThan(16 * 1024, "the bound is soft for replies");
    }

    [Fact]
    public async Task Reopen_AfterDrops_DroppedEventsStayDropped()
    {
        using var timeout = TestTimeout.Start();
        List<string> before;
        ulong droppedTotal;
        await using (var spool = Open(_directory.Path, maxBytes: 16 * 1024, segmentBytes: 4096))
        {
            for (var i = 0; i < 30; i++)
            {
                await spool.AppendAsync(i % 5 == 0 ? Reply("r" + i, padding: 900) : Hook("e" + i, padding: 900), timeout.Token);
            }

            before = ReadAll(spool).Select(m => m.Seq + ":" + Id(m)).ToList();
            droppedTotal = spool.Stats.DroppedTotal;
        }

        await using var reopened = Open(_directory.Path, maxBytes: 16 * 1024, segmentBytes: 4096);

        droppedTotal.Should().BeGreaterThan(0);
        ReadAll(reopened).Select(m => m.Seq + ":" + Id(m)).Should().Equal(before);
        reopened.Stats.DroppedTotal.Should().Be(droppedTotal);
    }

    [Fact]
    public async Task AppendAsync_ManyConcurrentProducers_EverySeqUniqueAndFileOrderIsSeqOrder()
    {
        using var timeout = TestTimeout.Start();
        const int producers = 16, perProducer = 200;
        var results = new System.Collections.Concurrent.ConcurrentBag<(ulong Seq, string Id)>();
        await using (var spool = Open(_directory.Path, segmentBytes: 64 * 1024))
        {
            await Task.WhenAll(Enumerable.Range(0, producers).Select(p => Task.Run(async () =>
            {
                var previous = 0UL;
                for (var i = 0; i < perProducer; i++)
                {
                    var id = $"p{p}-{i}";
                    var seq = await spool.AppendAsync(Hook(id, padding: 100), timeout.Token);
                    seq.Should().BeGreaterThan(previous, "one producer's appends keep their order");
                    previous = seq;
                    results.Add((seq, id));
                }
            })));
        }

        results.Select(r => r.Seq).Should().OnlyHaveUniqueItems().And.HaveCount(producers * perProducer);
        results.Max(r => r.Seq).Should().Be(producers * perProducer, "no gaps without drops");
        await using var reopened = Open(_directory.Path, segmentBytes: 64 * 1024);
        var read = ReadAll(reopened);
        read.Select(m => (m.Seq, Id(m))).Should().Equal(results.OrderBy(r => r.Seq));
    }

    [Fact]
    public void Validator_BadSizes_SaysHowToFixThem()
    {
        var result = new SpoolOptionsValidator().Validate(null, new SpoolOptions { MaxBytes = 100, SegmentBytes = 10, Directory = "relative/dir" });

        result.Failed.Should().BeTrue();
        result.FailureMessage.Should().Contain("Agent:Spool:MaxBytes is 100; give at least")
            .And.Contain("Agent:Spool:SegmentBytes")
            .And.Contain("must be an absolute path");
        new SpoolOptionsValidator().Validate(null, new SpoolOptions()).Succeeded.Should().BeTrue();
    }

    [Fact]
    public void Crc32C_KnownVector_Matches()
    {
        Crc32C.Compute("123456789"u8).Should().Be(0xE3069283);
        Crc32C.Compute([]).Should().Be(0);
    }

    public void Dispose() => _directory.Dispose();

    private static int N(string id) => int.Parse(id.AsSpan(1), CultureInfo.InvariantCulture);
}
