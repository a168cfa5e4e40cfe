using Relay.Agent.Spool;
using Relay.Protocol.V1;

namespace Relay.Agent.Tests.Infrastructure;

/// <summary>A real spool with a signal after every append and acknowledgement, so that tests wait on it without polling.</summary>
internal sealed class LinkObservedSpool(DiskSpool inner) : IAgentSpool
{
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public DiskSpool Inner { get; } = inner;

    public string Epoch => Inner.Epoch;

    public ulong NextSeq => Inner.NextSeq;

    public SpoolStats Stats => Inner.Stats;

    public async ValueTask<ulong> AppendAsync(AgentMessage message, CancellationToken cancellationToken)
    {
        var seq = await Inner.AppendAsync(message, cancellationToken);
        Changed();
        return seq;
    }

    public async ValueTask<ulong> AppendAsync(Func<AgentMessage> compose, CancellationToken cancellationToken)
    {
        var seq = await Inner.AppendAsync(compose, cancellationToken);
        Changed();
        return seq;
    }

    public IReadOnlyList<AgentMessage> ReadAfter(ulong afterSeq, int max) => Inner.ReadAfter(afterSeq, max);

    public ValueTask WaitForMessagesAfterAsync(ulong afterSeq, CancellationToken cancellationToken) => Inner.WaitForMessagesAfterAsync(afterSeq, cancellationToken);

    public async ValueTask AcknowledgeAsync(ulong seq, CancellationToken cancellationToken)
    {
        await Inner.AcknowledgeAsync(seq, cancellationToken);
        Changed();
    }

    public async Task WaitUntilAsync(Func<LinkObservedSpool, bool> condition, CancellationToken cancellationToken)
    {
        while (true)
        {
            var changed = Volatile.Read(ref _changed).Task;
            if (condition(this))
            {
                return;
            }

            await changed.WaitAsync(cancellationToken);
        }
    }

    private void Changed() =>
        Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
}
