using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;
using static Relay.Agent.Tests.Spool.SpoolTestSupport;

namespace Relay.Agent.Tests.Spool;

/// <summary>
/// Appends whose message is composed by the spool's writer when it assigns the seq (session snapshots): the message
/// must see everything that happened before it was queued, and more, never less.
/// </summary>
public sealed class DiskSpoolComposeTests : IDisposable
{
    private readonly TempDirectory _directory = new("relay-spool-");

    [Fact]
    public async Task AppendAsync_Composer_ComposedWhenItsSeqIsAssignedNotWhenCalled()
    {
        using var timeout = TestTimeout.Start();
        await using var spool = Open(_directory.Path);
        using var release = new ManualResetEventSlim();
        var composing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var state = "before";

        // The first composer holds the writer, so the second is queued behind it.
        var first = spool.AppendAsync(
            () =>
            {
                composing.TrySetResult();
                release.Wait(timeout.Token);
                return Hook("first");
            },
            timeout.Token).AsTask();
        await composing.Task.WaitAsync(timeout.Token);
        var second = spool.AppendAsync(() => Hook(state), timeout.Token).AsTask();
        state = "after";
        release.Set();

        (await first, await second).Should().Be((1UL, 2UL));
        ReadAll(spool).Select(Id).Should().Equal("first", "after");
    }

    [Fact]
    public async Task AppendAsync_ComposerThrows_ThatAppendFailsAndTheNextIsSpooled()
    {
        using var timeout = TestTimeout.Start();
        await using var spool = Open(_directory.Path);

        var failing = async () => await spool.AppendAsync(() => throw new InvalidOperationException("no snapshot"), timeout.Token);
        await failing.Should().ThrowAsync<InvalidOperationException>().WithMessage("no snapshot");
        var next = await spool.AppendAsync(() => Hook("e1"), timeout.Token);

        next.Should().Be(1UL, "the failed append took no seq");
        ReadAll(spool).Select(Id).Should().Equal("e1");
    }

    [Fact]
    public async Task AppendAsync_ComposerMakesAnUnsequencedMessage_IsRefused()
    {
        using var timeout = TestTimeout.Start();
        await using var spool = Open(_directory.Path);

        var append = async () => await spool.AppendAsync(() => new AgentMessage { Ack = new Ack { Seq = 1 } }, timeout.Token);

        await append.Should().ThrowAsync<ArgumentException>().WithMessage("*sequenced*");
        ReadAll(spool).Should().BeEmpty();
    }

    public void Dispose() => _directory.Dispose();
}
