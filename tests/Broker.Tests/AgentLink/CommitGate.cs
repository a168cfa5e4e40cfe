using Relay.Broker.AgentLink;

namespace Relay.Broker.Tests.AgentLink;

/// <summary>
/// Holds an inbound batch between "stored in the transaction" and "committed" once armed, and then fails it the way a
/// broker killed at that moment would: the transaction never commits.
/// </summary>
internal sealed class CommitGate : IInboundBatchObserver
{
    private readonly TaskCompletionSource<long> _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _kill = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _armed;

    /// <summary>Completes with the batch's highest seq when an armed batch is about to commit.</summary>
    public Task<long> Reached => _reached.Task;

    public void Arm() => _armed = true;

    /// <summary>The broker "dies" before the held batch commits.</summary>
    public void Kill() => _kill.TrySetResult();

    public async ValueTask BeforeCommitAsync(Guid machineId, long highestSeq, Npgsql.NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        if (!_armed)
        {
            return;
        }

        _reached.TrySetResult(highestSeq);
        await _kill.Task.WaitAsync(cancellationToken);
        throw new InvalidOperationException("Simulated crash between storing a batch and committing it.");
    }
}
