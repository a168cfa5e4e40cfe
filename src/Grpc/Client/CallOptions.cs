namespace Relay.Grpc;

/// <summary>Per-call options: metadata, deadline, cancellation and write options.</summary>
/// <param name="Headers">Request metadata.</param>
/// <param name="Deadline">The call's deadline (UTC); null for none.</param>
/// <param name="WriteOptions">Options for request stream writes.</param>
/// <param name="CancellationToken">Cancels the call (RST_STREAM CANCEL).</param>
public readonly record struct CallOptions(
    Metadata? Headers = null,
    DateTime? Deadline = null,
    WriteOptions? WriteOptions = null,
    CancellationToken CancellationToken = default)
{
    /// <summary>A copy with <paramref name="timeout"/> from now as the deadline.</summary>
    public CallOptions WithTimeout(TimeSpan timeout) => this with { Deadline = DateTime.UtcNow + timeout };
}
