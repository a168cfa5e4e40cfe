using System.Globalization;
using Relay.Broker.Signals;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Broker.Tests.Signals;

public sealed class BrokerSignalsTests
{
    private const long Window = BrokerSignals.ForgetAfterPublishes;

    [Fact]
    public void Publish_OnePromptTopicEach_RemembersAtMostTwoWindowsOfTopics()
    {
        var signals = new BrokerSignals();

        for (var i = 0; i < 10 * Window; i++)
        {
            signals.Publish(BrokerSignals.Prompt(i.ToString(CultureInfo.InvariantCulture)));
        }

        // Before, every topic was kept for good: 40,960 here, one per prompt a broker ever sent.
        signals.TopicCount.Should().BeLessThanOrEqualTo((int)(2 * Window));
    }

    [Fact]
    public async Task WaitAsync_NothingPublishedSinceTheVersionWasRead_WaitsForThePublish()
    {
        var signals = new BrokerSignals();
        Flood(signals, 10);
        var seen = signals.Version("a");

        var waiting = signals.WaitAsync("a", seen, CancellationToken.None);
        Flood(signals, 10);
        waiting.IsCompleted.Should().BeFalse("only other topics were published");
        signals.Publish("a");

        (await waiting.WaitAsync(TestTimeout.Default)).Should().Be(seen + 1);
    }

    [Fact]
    public async Task WaitAsync_VersionReadBeforeTheTopicWasForgotten_WokenByTheNextPublish()
    {
        var signals = new BrokerSignals();
        signals.Publish("a");
        var seen = signals.Version("a");
        Flood(signals, 2 * Window);
        signals.Remembers("a").Should().BeFalse("nobody waited on it");

        var waiting = signals.WaitAsync("a", seen, CancellationToken.None);
        signals.Publish("a");

        (await waiting.WaitAsync(TestTimeout.Default)).Should().BeGreaterThan(seen);
    }

    [Fact]
    public void Version_TopicForgottenAndMadeAgain_NeverBelowAnEarlierVersion()
    {
        var signals = new BrokerSignals();
        for (var i = 0; i < 3; i++)
        {
            signals.Publish("a");
        }

        var earlier = signals.Version("a");
        Flood(signals, 2 * Window);
        signals.Remembers("a").Should().BeFalse();

        signals.Version("a").Should().BeGreaterThanOrEqualTo(earlier);
        signals.Publish("a");
        signals.Version("a").Should().BeGreaterThan(earlier);
    }

    [Fact]
    public async Task WaitAsync_WhileOthersArePublished_TopicKeptAndWoken()
    {
        var signals = new BrokerSignals();
        signals.Publish("a");
        var seen = signals.Version("a");
        var waiting = signals.WaitAsync("a", seen, CancellationToken.None);

        Flood(signals, 3 * Window);
        waiting.IsCompleted.Should().BeFalse();
        signals.Remembers("a").Should().BeTrue("a topic with a waiter is never forgotten");
        signals.Publish("a");

        (await waiting.WaitAsync(TestTimeout.Default)).Should().Be(seen + 1);
    }

    [Fact]
    public async Task WaitAsync_Cancelled_NoLongerKeepsTheTopic()
    {
        var signals = new BrokerSignals();
        signals.Publish("a");
        using var cancel = new CancellationTokenSource();
        var waiting = signals.WaitAsync("a", signals.Version("a"), cancel.Token);
        await cancel.CancelAsync();
        await FluentActions.Awaiting(() => waiting).Should().ThrowAsync<OperationCanceledException>();

        Flood(signals, 2 * Window);

        signals.Remembers("a").Should().BeFalse();
    }

    private static void Flood(BrokerSignals signals, long publishes)
    {
        for (var i = 0; i < publishes; i++)
        {
            signals.Publish("other:" + i.ToString(CultureInfo.InvariantCulture));
        }
    }
}
