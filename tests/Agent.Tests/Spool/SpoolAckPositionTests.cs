using System.Diagnostics;
using System.Globalization;
using Relay.Agent.Spool;
using Relay.Broker.Tests.Infrastructure;
using static Relay.Agent.Tests.Spool.SpoolTestSupport;

namespace Relay.Agent.Tests.Spool;

/// <summary>
/// The acknowledged position: <c>spool.ack</c> written in place on every Ack (no fsync), <c>spool.meta</c> saved only before
/// a segment is deleted. A crash of the agent recovers the exact position; a lost or torn <c>spool.ack</c> falls back to
/// the meta, which covers every deleted record, so nothing unacknowledged is ever lost.
/// </summary>
public sealed class SpoolAckPositionTests : IDisposable
{
    private readonly TempDirectory _directory = new("relay-spool-ack-");

    private string AckPath => Path.Combine(_directory.Path, SpoolAckFile.FileName);

    [Fact]
    public async Task AcknowledgeAsync_NoSegmentDies_WritesTheAckFileAndLeavesTheMeta()
    {
        using var timeout = TestTimeout.Start();
        await using var spool = Open(_directory.Path);
        for (var i = 1; i <= 5; i++)
        {
            await spool.AppendAsync(Hook("e" + i), timeout.Token);
        }

        await spool.AcknowledgeAsync(3, timeout.Token);

        SpoolMeta.Load(_directory.Path)!.AckedSeq.Should().Be(0, "no record left the disk, so the meta is not rewritten");
        SpoolAckFile.Decode(File.ReadAllBytes(AckPath)).Should().Be((spool.Epoch, 3UL, 0UL));
    }

    [Fact]
    public async Task AcknowledgeAsync_SegmentsDeleted_MetaCoversThemFirst()
    {
        using var timeout = TestTimeout.Start();
        await using var spool = Open(_directory.Path, segmentBytes: 4096);
        for (var i = 0; i < 100; i++)
        {
            await spool.AppendAsync(Hook("e" + i, padding: 200), timeout.Token);
        }

        var before = SegmentFiles(_directory.Path).Length;
        await spool.AcknowledgeAsync(60, timeout.Token);

        SegmentFiles(_directory.Path).Length.Should().BeLessThan(before);
        SpoolMeta.Load(_directory.Path)!.AckedSeq.Should().Be(60, "the position is durable in the meta before a segment goes");
    }

    [Fact]
    public async Task Reopen_AckFileAheadOfMeta_TakesItsPositionAndSavesItIntoTheMeta()
    {
        using var timeout = TestTimeout.Start();
        await using (var spool = Open(_directory.Path))
        {
            for (var i = 1; i <= 6; i++)
            {
                await spool.AppendAsync(Reply("r" + i), timeout.Token);
            }

            await spool.AcknowledgeAsync(4, timeout.Token);
        }

        SpoolMeta.Load(_directory.Path)!.AckedSeq.Should().Be(0);

        await using var reopened = Open(_directory.Path);

        reopened.AckedSeq.Should().Be(4);
        ReadAll(reopened).Select(Id).Should().Equal("r5", "r6");
        SpoolMeta.Load(_directory.Path)!.AckedSeq.Should().Be(4, "saved before recovery may delete anything on its account");
    }

    [Theory]
    [InlineData("torn")]
    [InlineData("empty")]
    [InlineData("missing")]
    [InlineData("other-epoch")]
    public async Task Reopen_AckFileUnusable_FallsBackToTheMetaAndLosesNothing(string damage)
    {
        using var timeout = TestTimeout.Start();
        string epoch;
        ulong second;
        await using (var spool = Open(_directory.Path, segmentBytes: 4096))
        {
            epoch = spool.Epoch;
            for (var i = 1; i <= 40; i++)
            {
                await spool.AppendAsync(Reply("r" + i, padding: 200), timeout.Token);
            }

            await spool.AcknowledgeAsync(20, timeout.Token); // deletes segments: the meta says 20

            // Then an Ack that frees no segment: it stops one short of the end of the segment holding seq 21.
            var nextFirst = SegmentFiles(_directory.Path).Select(f => ulong.Parse(Path.GetFileNameWithoutExtension(f), CultureInfo.InvariantCulture)).First(f => f > 21);
            second = nextFirst - 2;
            second.Should().BeGreaterThan(20, "the test needs an Ack that deletes nothing");
            await spool.AcknowledgeAsync(second, timeout.Token);
        }

        SpoolMeta.Load(_directory.Path)!.AckedSeq.Should().Be(20);
        SpoolAckFile.Decode(File.ReadAllBytes(AckPath))!.Value.AckedSeq.Should().Be(second);
        switch (damage)
        {
            case "torn":
                var sector = File.ReadAllBytes(AckPath);
                sector[10] ^= 0xFF;
                File.WriteAllBytes(AckPath, sector);
                break;
            case "empty":
                File.WriteAllBytes(AckPath, []);
                break;
            case "missing":
                File.Delete(AckPath);
                break;
            case "other-epoch":
                var other = new byte[512];
                SpoolAckFile.Encode(other, "someotherepoch", 35, 0);
                File.WriteAllBytes(AckPath, other);
                break;
        }

        await using var reopened = Open(_directory.Path, segmentBytes: 4096);

        reopened.Epoch.Should().Be(epoch);
        reopened.AckedSeq.Should().Be(20, "the meta's position covers every deleted segment");
        ReadAll(reopened).Select(m => m.Seq).Should().Equal(Enumerable.Range(21, 20).Select(i => (ulong)i),
            "what the lost Acks covered is sent again (the broker ignores seqs at or below its position), nothing is missing");
        reopened.NextSeq.Should().Be(41);
    }

    [Fact]
    public async Task Acknowledge_ProcessKilledMidStream_RecoversTheExactPosition()
    {
        using var timeout = TestTimeout.Start();
        const int killAfter = 600;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "Relay.Agent.Tests.dll"), "spool-ack-child", _directory.Path, "1000000" })
        {
            start.ArgumentList.Add(arg);
        }

        ulong lastReported = 0;
        var count = 0;
        using (var child = Process.Start(start)!)
        {
            var stderr = child.StandardError.ReadToEndAsync(timeout.Token);
            try
            {
                while (count < killAfter && await child.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
                {
                    lastReported = ulong.Parse(line, CultureInfo.InvariantCulture);
                    count++;
                }

                count.Should().Be(killAfter, "the child should still be appending: " + (child.HasExited ? await stderr : "running"));
            }
            finally
            {
                child.Kill();
                await child.WaitForExitAsync(timeout.Token);
            }

            while (await child.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                lastReported = ulong.Parse(line, CultureInfo.InvariantCulture);
            }
        }

        await using var spool = Open(_directory.Path, segmentBytes: 16 * 1024);

        // The child appends seq n, acks it, prints it: killed anywhere, the position is the last printed or the one after.
        spool.AckedSeq.Should().BeInRange(lastReported, lastReported + 1);
        var rest = ReadAll(spool).Select(m => m.Seq).ToList();
        rest.Should().BeSubsetOf([spool.AckedSeq + 1], "at most the record appended but not yet acknowledged when the kill landed");
        spool.NextSeq.Should().Be(spool.AckedSeq + 1 + (ulong)rest.Count);
        SpoolMeta.Load(_directory.Path)!.AckedSeq.Should().Be(spool.AckedSeq);
        SegmentFiles(_directory.Path).Length.Should().BeLessThanOrEqualTo(2, "acknowledged segments were deleted as the child went");
    }

    public void Dispose() => _directory.Dispose();
}
