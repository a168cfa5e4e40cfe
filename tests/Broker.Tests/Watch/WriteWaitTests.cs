using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Relay.Broker.Tests.Infrastructure;
using Relay.Broker.Watch;
using Relay.Tests.Shared;

namespace Relay.Broker.Tests.Watch;

/// <summary>
/// How a Watch waits for a response write when it has to end: never by cancelling the write (Kestrel would reset the
/// stream with INTERNAL_ERROR), but by giving the watcher Watch:StalledWriteGrace to take it.
/// </summary>
public sealed class WriteWaitTests
{
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(10);
    private readonly ManualTimeProvider _time = new();

    [Fact]
    public async Task WaitAsync_WriteCompletesWhileNothingEnds_True()
    {
        using var timeout = TestTimeout.Start();
        var write = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var wait = WriteWait.WaitAsync(write.Task, Grace, _time, NullLogger.Instance, CancellationToken.None, CancellationToken.None);
        write.SetResult();

        (await wait.WaitAsync(timeout.Token)).Should().BeTrue();
    }

    [Fact]
    public async Task WaitAsync_OverflowThenWatcherTakesTheWriteWithinGrace_True()
    {
        using var timeout = TestTimeout.Start();
        var (write, wait) = await MustEndWhileTheWriteWaitsAsync(byOverflow: true, timeout.Token);

        _time.Advance(Grace - TimeSpan.FromMilliseconds(1));
        write.SetResult();

        (await wait.WaitAsync(timeout.Token)).Should().BeTrue();
    }

    [Fact]
    public async Task WaitAsync_OverflowAndTheWriteStaysStuck_FalseOnlyOnceTheGraceHasPassed()
    {
        using var timeout = TestTimeout.Start();
        var (write, wait) = await MustEndWhileTheWriteWaitsAsync(byOverflow: true, timeout.Token);

        _time.Advance(Grace - TimeSpan.FromMilliseconds(1));
        var earlier = wait.IsCompleted;
        _time.Advance(TimeSpan.FromMilliseconds(1));

        (await wait.WaitAsync(timeout.Token)).Should().BeFalse();
        earlier.Should().BeFalse();
        write.Task.IsCompleted.Should().BeFalse("the write is the caller's to end, by resetting the stream");
    }

    [Fact]
    public async Task WaitAsync_CallEndingAndTheWriteStaysStuck_FalseAfterTheGrace()
    {
        using var timeout = TestTimeout.Start();
        var (_, wait) = await MustEndWhileTheWriteWaitsAsync(byOverflow: false, timeout.Token);

        _time.Advance(Grace);

        (await wait.WaitAsync(timeout.Token)).Should().BeFalse();
    }

    [Fact]
    public async Task WaitAsync_NoGrace_FalseAsSoonAsTheWatchMustEnd()
    {
        using var timeout = TestTimeout.Start();
        using var overflowed = new CancellationTokenSource();
        var write = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var wait = WriteWait.WaitAsync(write.Task, TimeSpan.Zero, _time, NullLogger.Instance, overflowed.Token, CancellationToken.None);
        await overflowed.CancelAsync();

        (await wait.WaitAsync(timeout.Token)).Should().BeFalse();
    }

    [Fact]
    public async Task WaitAsync_WriteFailsAfterTheWatchMustEnd_ThrowsTheWritesError()
    {
        using var timeout = TestTimeout.Start();
        using var ending = new CancellationTokenSource();
        var write = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var wait = WriteWait.WaitAsync(write.Task, Grace, _time, NullLogger.Instance, CancellationToken.None, ending.Token);
        await ending.CancelAsync();
        write.SetException(new IOException("the client went away"));

        await FluentActions.Awaiting(() => wait.WaitAsync(timeout.Token)).Should().ThrowAsync<IOException>().WithMessage("the client went away");
    }

    [Theory]
    [InlineData("-00:00:01")]
    [InlineData("00:10:01")]
    public void Options_StalledWriteGraceOutOfRange_SaysWhatToGive(string grace)
    {
        var options = new WatchOptions { StalledWriteGrace = TimeSpan.Parse(grace, CultureInfo.InvariantCulture) };
        var results = new List<ValidationResult>();

        Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true).Should().BeFalse();

        results.Should().ContainSingle().Which.ErrorMessage.Should().Contain("Watch:StalledWriteGrace").And.Contain("e.g. 00:00:10");
    }

    /// <summary>
    /// A write that has not completed when the watch has to end (its buffer overflowed, or its call is ending): returns
    /// the write and the wait once the grace period's timer is armed.
    /// </summary>
    private async Task<(TaskCompletionSource Write, Task<bool> Wait)> MustEndWhileTheWriteWaitsAsync(bool byOverflow, CancellationToken cancellationToken)
    {
        var end = new CancellationTokenSource();
        var write = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var wait = WriteWait.WaitAsync(
            write.Task, Grace, _time, NullLogger.Instance, byOverflow ? end.Token : CancellationToken.None, byOverflow ? CancellationToken.None : end.Token);
        await end.CancelAsync();
        await _time.WaitForTimerAsync((due, _) => due == Grace, cancellationToken);
        return (write, wait);
    }
}
