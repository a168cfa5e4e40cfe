using System.Text;
using Relay.Agent.Local;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Agent.Tests.Local;

public sealed class JournalFileTests
{
    [Fact]
    public async Task AppendAsync_ManyConcurrentAppenders_EveryLineIsInTheFileOnceAndWhole()
    {
        using var timeout = TestTimeout.Start();
        using var directory = new TempDirectory("rlj-");
        Directory.CreateDirectory(directory.Path);
        using var journal = new JournalFile(Path.Combine(directory.Path, "j.log"));
        var lines = Enumerable.Range(0, 200).Select(i => $"line-{i:D3}-" + new string('x', i)).ToList();

        // Appenders that arrive while another writes are written by it (group commit); none may be lost or torn.
        await Task.WhenAll(lines.Select(line => Task.Run(async () => await journal.AppendAsync(line, timeout.Token))));

        journal.ReadLines().Should().BeEquivalentTo(lines);
        File.ReadAllText(journal.FilePath).Should().EndWith("\n");
    }

    [Fact]
    public async Task AppendAsync_NotDurable_LineIsInTheFileWhenItReturns()
    {
        using var timeout = TestTimeout.Start();
        using var directory = new TempDirectory("rlj-");
        Directory.CreateDirectory(directory.Path);
        using var journal = new JournalFile(Path.Combine(directory.Path, "j.log"));

        await journal.AppendAsync("first", durable: false, timeout.Token);
        await journal.AppendAsync("second", durable: true, timeout.Token);
        await journal.AppendAsync("third", durable: false, timeout.Token);

        // Another reader (a restarted agent) sees what the operating system has, fsynced or not.
        File.ReadAllText(journal.FilePath, Encoding.UTF8).Should().Be("first\nsecond\nthird\n");
    }

    [Fact]
    public async Task SyncAsync_AfterNotDurableAppend_ReturnsOnlyAfterTheFlush()
    {
        using var timeout = TestTimeout.Start();
        using var directory = new TempDirectory("rlj-");
        Directory.CreateDirectory(directory.Path);
        var flush = new HeldFlush(timeout.Token);
        using var journal = new JournalFile(Path.Combine(directory.Path, "j.log"), flush.Flush);

        await journal.AppendAsync("first", durable: false, timeout.Token);
        flush.Count.Should().Be(0, "a line that need not be durable does not wait for the disk");

        // The caller that finds nobody writing writes (and flushes) on its own thread.
        var sync = Task.Run(async () => await journal.SyncAsync(timeout.Token));
        await flush.EnteredAsync();
        sync.IsCompleted.Should().BeFalse("the line is on disk only once the flush has returned");

        flush.Release();
        await sync;
        flush.Count.Should().Be(1);
        File.ReadAllText(journal.FilePath, Encoding.UTF8).Should().Be("first\n", "a sync adds nothing to the file");
    }

    [Fact]
    public async Task SyncAsync_FlushFails_ThrowsAndTheNextSyncFlushesAgain()
    {
        using var timeout = TestTimeout.Start();
        using var directory = new TempDirectory("rlj-");
        Directory.CreateDirectory(directory.Path);
        var flush = new HeldFlush(timeout.Token);
        using var journal = new JournalFile(Path.Combine(directory.Path, "j.log"), flush.Flush);
        await journal.AppendAsync("first", durable: false, timeout.Token);

        flush.FailNext(new IOException("disk gone"));
        flush.Release();
        var failed = async () => await Task.Run(async () => await journal.SyncAsync(timeout.Token));
        (await failed.Should().ThrowAsync<IOException>()).WithMessage("*disk gone*");

        flush.Release();
        await Task.Run(async () => await journal.SyncAsync(timeout.Token));
        flush.Count.Should().Be(2);
    }

    [Fact]
    public async Task Rewrite_AfterAppends_ReplacesTheFileAndLaterAppendsFollowIt()
    {
        using var timeout = TestTimeout.Start();
        using var directory = new TempDirectory("rlj-");
        Directory.CreateDirectory(directory.Path);
        var path = Path.Combine(directory.Path, "j.log");
        using (var journal = new JournalFile(path))
        {
            await journal.AppendAsync("old-1", timeout.Token);
            await journal.AppendAsync("old-2", durable: false, timeout.Token);

            journal.Rewrite(["kept"]);
            await journal.AppendAsync("new", timeout.Token);
        }

        using var reopened = new JournalFile(path);
        reopened.ReadLines().Should().Equal("kept", "new");
        File.Exists(path + ".tmp").Should().BeFalse();
    }

    [Fact]
    public async Task ReadLines_TornLastLine_IsSkipped()
    {
        using var timeout = TestTimeout.Start();
        using var directory = new TempDirectory("rlj-");
        Directory.CreateDirectory(directory.Path);
        var path = Path.Combine(directory.Path, "j.log");
        using (var journal = new JournalFile(path))
        {
            await journal.AppendAsync("whole", timeout.Token);
        }

        await File.AppendAllTextAsync(path, "tor", timeout.Token);

        new JournalFile(path).ReadLines().Should().Equal("whole");
    }

    [Fact]
    public async Task AppendAsync_AfterDispose_Throws()
    {
        using var directory = new TempDirectory("rlj-");
        Directory.CreateDirectory(directory.Path);
        var journal = new JournalFile(Path.Combine(directory.Path, "j.log"));
        journal.Dispose();

        var append = async () => await journal.AppendAsync("late", CancellationToken.None);

        await append.Should().ThrowAsync<ObjectDisposedException>();
    }
}
