using Relay.Agent.Spool;
using Relay.Broker.Tests.Infrastructure;
using static Relay.Agent.Tests.Spool.SpoolTestSupport;

namespace Relay.Agent.Tests.Spool;

/// <summary>Segment reuse and preallocation: what keeps a durable append to one write and one fdatasync.</summary>
public sealed class DiskSpoolSegmentTests : IDisposable
{
    private const int TornTailEvent = 4102;

    private readonly TempDirectory _directory = new("relay-spool-seg-");

    [Fact]
    public async Task AppendAsync_EveryRecordAckedBeforeTheNext_KeepsWritingOneSegment()
    {
        using var timeout = TestTimeout.Start();
        await using (var spool = Open(_directory.Path))
        {
            for (var i = 1; i <= 50; i++)
            {
                var seq = await spool.AppendAsync(Hook("e" + i), timeout.Token);
                await spool.AcknowledgeAsync(seq, timeout.Token);
            }

            // A new file per hook would be a create, two fsyncs and an unlink each time: the one segment is written on.
            SegmentFiles(_directory.Path).Select(Path.GetFileName).Should().Equal(SpoolSegment.NameFor(1));
            spool.Stats.Items.Should().Be(0);
        }

        await using var reopened = Open(_directory.Path);

        ReadAll(reopened).Should().BeEmpty("every record in the reused segment is acknowledged");
        reopened.NextSeq.Should().Be(51);
        (await reopened.AppendAsync(Hook("after"), timeout.Token)).Should().Be(51);
        SegmentFiles(_directory.Path).Select(Path.GetFileName).Should().Equal(SpoolSegment.NameFor(1));
        ReadAll(reopened).Select(Id).Should().Equal("after");
    }

    [Fact]
    public async Task AppendAsync_FullSegmentAllAcked_IsDeletedOnceTheNextOneStarts()
    {
        using var timeout = TestTimeout.Start();
        await using var spool = Open(_directory.Path, segmentBytes: 4096);
        ulong seq = 0;
        var seen = new HashSet<string>();
        for (var i = 0; i < 40; i++)
        {
            seq = await spool.AppendAsync(Hook("e" + i, padding: 300), timeout.Token);
            await spool.AcknowledgeAsync(seq, timeout.Token);
            var files = SegmentFiles(_directory.Path);
            files.Should().ContainSingle("a full, acknowledged segment goes as soon as the next one takes over");
            seen.Add(files[0]);
        }

        seen.Count.Should().BeGreaterThan(2, "about 400 bytes a record in 4 KiB segments");
        new FileInfo(SegmentFiles(_directory.Path)[0]).Length.Should().Be(4096, "each new segment is preallocated");
        seq.Should().Be(40);
    }

    [Fact]
    public async Task Reopen_PreallocatedZeroTail_IsNotATornTailAndAppendsContinueAfterTheRecords()
    {
        using var timeout = TestTimeout.Start();
        await using (var spool = Open(_directory.Path))
        {
            await spool.AppendAsync(Hook("e1"), timeout.Token);
            await spool.AppendAsync(Reply("r2"), timeout.Token);
        }

        var segment = SegmentFiles(_directory.Path).Single();
        var recordsEnd = RecordsEnd(segment);
        new FileInfo(segment).Length.Should().Be(1024 * 1024);
        IsZeroFrom(segment, recordsEnd).Should().BeTrue();
        var logger = new RecordingLogger<DiskSpool>();

        await using (var reopened = Open(_directory.Path, logger: logger))
        {
            ReadAll(reopened).Select(Id).Should().Equal("e1", "r2");
            (await reopened.AppendAsync(Hook("e3"), timeout.Token)).Should().Be(3);
        }

        logger.Events.Select(e => e.Id).Should().NotContain(TornTailEvent, "zeros after the records are the preallocation, not damage");
        RecordStarts(segment, out _).Should().HaveCount(3).And.Contain(recordsEnd, "e3 went right after r2");
        await using var third = Open(_directory.Path);
        ReadAll(third).Select(Id).Should().Equal("e1", "r2", "e3");
    }

    [Fact]
    public async Task Reopen_RecordsAfterAHoleInTheirBatch_AreCutAndNeverComeBack()
    {
        using var timeout = TestTimeout.Start();
        await using (var spool = Open(_directory.Path))
        {
            for (var i = 1; i <= 10; i++)
            {
                await spool.AppendAsync(Hook("e" + i, padding: 100), timeout.Token);
            }
        }

        // A crash in the middle of one batch's write: the pages of e8 never reached the disk, those of e9 and e10 did.
        // Their producers were never answered, so they must not come back, nor be found after later appends.
        var segment = SegmentFiles(_directory.Path).Single();
        var starts = RecordStarts(segment, out _);
        ZeroBytes(segment, starts[7], (int)(starts[8] - starts[7]));
        var logger = new RecordingLogger<DiskSpool>();

        await using (var reopened = Open(_directory.Path, logger: logger))
        {
            ReadAll(reopened).Select(Id).Should().Equal(Enumerable.Range(1, 7).Select(i => "e" + i));
            (await reopened.AppendAsync(Hook("n8"), timeout.Token)).Should().Be(8);
        }

        logger.Events.Select(e => e.Id).Should().Contain(TornTailEvent);
        await using var again = Open(_directory.Path);
        ReadAll(again).Select(m => (m.Seq, Id(m))).Should().Equal(
            Enumerable.Range(1, 7).Select(i => ((ulong)i, "e" + i)).Append((8UL, "n8")));
        IsZeroFrom(segment, RecordsEnd(segment)).Should().BeTrue();
    }

    [Fact]
    public async Task Reopen_TailWrittenWithoutPreallocation_KeepsItsRecordsAndIsPreallocated()
    {
        using var timeout = TestTimeout.Start();
        await using (var spool = Open(_directory.Path))
        {
            await spool.AppendAsync(Reply("r1"), timeout.Token);
            await spool.AppendAsync(Hook("e2"), timeout.Token);
        }

        // A segment as an agent before preallocation left it: the file ends with its last record.
        var segment = SegmentFiles(_directory.Path).Single();
        var recordsEnd = RecordsEnd(segment);
        using (var file = new FileStream(segment, FileMode.Open))
        {
            file.SetLength(recordsEnd);
        }

        var logger = new RecordingLogger<DiskSpool>();
        await using (var reopened = Open(_directory.Path, logger: logger))
        {
            ReadAll(reopened).Select(Id).Should().Equal("r1", "e2");
            new FileInfo(segment).Length.Should().Be(1024 * 1024);
            (await reopened.AppendAsync(Hook("e3"), timeout.Token)).Should().Be(3);
        }

        logger.Events.Select(e => e.Id).Should().NotContain(TornTailEvent);
        await using var again = Open(_directory.Path);
        ReadAll(again).Select(Id).Should().Equal("r1", "e2", "e3");
    }

    [Fact]
    public async Task AppendAsync_SegmentsFillUp_EachNextOneIsTheSpareAndAllReadBackInOrder()
    {
        using var timeout = TestTimeout.Start();
        await using (var spool = Open(_directory.Path, segmentBytes: 4096))
        {
            for (var i = 1; i <= 60; i++)
            {
                // Ready before every append, so each full segment is followed by the spare (a rename, no zero-filling).
                await spool.SpareReady.WaitAsync(timeout.Token);
                (await spool.AppendAsync(Hook("e" + i, padding: 300), timeout.Token)).Should().Be((ulong)i);
            }

            Directory.GetFiles(_directory.Path, "*" + SpoolSegment.SpareExtension).Should().ContainSingle("the next one is prepared");
        }

        Directory.GetFiles(_directory.Path, "*" + SpoolSegment.SpareExtension).Should().BeEmpty("closing deletes the spare");
        var segments = SegmentFiles(_directory.Path);
        segments.Length.Should().BeGreaterThan(4, "about 400 bytes a record in 4 KiB segments");
        segments.Should().OnlyContain(s => new FileInfo(s).Length == 4096, "spares are preallocated like new segments");
        await using var reopened = Open(_directory.Path, segmentBytes: 4096);
        ReadAll(reopened).Select(m => (m.Seq, Id(m))).Should().Equal(Enumerable.Range(1, 60).Select(i => ((ulong)i, "e" + i)));
    }

    [Fact]
    public async Task Reopen_LeftoverSpare_IsDeletedAndNeverReadAsRecords()
    {
        using var timeout = TestTimeout.Start();
        await using (var spool = Open(_directory.Path))
        {
            await spool.AppendAsync(Hook("e1"), timeout.Token);
        }

        // A crash between preparing a spare and naming it, here one that even holds a record.
        var segment = SegmentFiles(_directory.Path).Single();
        File.Copy(segment, Path.Combine(_directory.Path, "next" + SpoolSegment.SpareExtension));

        await using (var reopened = Open(_directory.Path))
        {
            ReadAll(reopened).Select(m => (m.Seq, Id(m))).Should().Equal((1UL, "e1"));
            (await reopened.AppendAsync(Hook("e2"), timeout.Token)).Should().Be(2);
            await reopened.SpareReady.WaitAsync(timeout.Token);
        }

        SegmentFiles(_directory.Path).Should().Equal(segment);
        Directory.GetFiles(_directory.Path, "*" + SpoolSegment.SpareExtension).Should().BeEmpty();
    }

    public void Dispose() => _directory.Dispose();
}
