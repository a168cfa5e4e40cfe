using Microsoft.Extensions.Options;
using Relay.Broker.Queries;
using Relay.Broker.Signals;
using Pb = Relay.Protocol.V1;

namespace Relay.Broker.Prompts;

/// <summary>A prompt's state, its replies, and whether a wait for it ran out.</summary>
internal sealed record PromptState(Pb.Prompt Prompt, IReadOnlyList<Pb.Reply> Replies, bool TimedOut);

/// <summary>Reads a prompt with its replies, or waits until it reaches a status (or ends), woken by its signal topic.</summary>
internal sealed class PromptWaiter(PromptReader reader, BrokerSignals signals, IOptions<PromptOptions> options, TimeProvider timeProvider)
{
    public async Task<PromptState> WaitAsync(Guid promptId, Pb.PromptStatus wanted, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var (prompt, timedOut) = await SignalWait.UntilAsync(
            signals,
            BrokerSignals.Prompt(promptId.ToString("D")),
            ct => GetAsync(promptId, ct),
            p => PromptStatuses.Reached(p.Status, wanted),
            timeout,
            options.Value.WaitPollInterval,
            timeProvider,
            cancellationToken);
        return await WithRepliesAsync(prompt, timedOut, cancellationToken);
    }

    public async Task<PromptState> GetStateAsync(Guid promptId, CancellationToken cancellationToken) =>
        await WithRepliesAsync(await GetAsync(promptId, cancellationToken), timedOut: false, cancellationToken);

    private async Task<Pb.Prompt> GetAsync(Guid promptId, CancellationToken cancellationToken) =>
        (await reader.GetManyAsync([promptId], cancellationToken)).GetValueOrDefault(promptId)
        ?? throw AdminErrors.NotFound($"no prompt has the id {promptId:D}.");

    private async Task<PromptState> WithRepliesAsync(Pb.Prompt prompt, bool timedOut, CancellationToken cancellationToken) =>
        new(prompt, await reader.RepliesAsync(Guid.Parse(prompt.PromptId), cancellationToken), timedOut);
}
