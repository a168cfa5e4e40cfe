namespace Relay.Grpc;

/// <summary>Flags for a single streamed write.</summary>
[Flags]
public enum WriteFlags
{
    /// <summary>Default: the message is flushed to the transport at once.</summary>
    None = 0,

    /// <summary>
    /// The message may be held in a buffer until a later write without the hint (or the end of the call)
    /// flushes it. A producer that knows more messages follow sets it to batch them into fewer frames.
    /// </summary>
    BufferHint = 1,
}

/// <summary>Options for streamed writes.</summary>
/// <param name="Flags">The write flags.</param>
public sealed record WriteOptions(WriteFlags Flags = WriteFlags.None)
{
    /// <summary>Writes that flush every message.</summary>
    public static readonly WriteOptions Default = new();

    /// <summary>Writes that may be batched until the next flushing write.</summary>
    public static readonly WriteOptions Buffered = new(WriteFlags.BufferHint);
}
