namespace Relay.Agent.Spool;

/// <summary>The on-disk spool. Section <c>Agent:Spool</c> (environment: <c>Agent__Spool__MaxBytes</c>...).</summary>
internal sealed class SpoolOptions
{
    public const string SectionName = "Agent:Spool";

    /// <summary>
    /// The spool's directory; empty = <c>spool</c> under the agent's state directory
    /// (<see cref="Relay.Protocol.Local.LocalAgentPaths.StateDirectory"/>).
    /// </summary>
    public string? Directory { get; set; }

    /// <summary>
    /// The most bytes of unacknowledged items the spool keeps. When it is full, the oldest hook events are dropped (and
    /// reported by one EventsDropped); everything else is kept even beyond this bound. Default 256 MiB.
    /// </summary>
    public long MaxBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Size at which the spool starts a new segment file; a segment is deleted once all its items are acked. Default 8 MiB.</summary>
    public long SegmentBytes { get; set; } = 8L * 1024 * 1024;

    /// <summary>The largest single item, in bytes; larger appends are refused. Default 4 MiB.</summary>
    public int MaxItemBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Appends waiting for the writer; producers wait (asynchronously) when it is full. Default 4,096.</summary>
    public int QueueCapacity { get; set; } = 4096;

    /// <summary>The spool directory for <paramref name="stateDirectory"/> (or this user's state directory).</summary>
    public string ResolveDirectory(string? stateDirectory = null) =>
        string.IsNullOrWhiteSpace(Directory)
            ? Path.Combine(stateDirectory ?? Relay.Protocol.Local.LocalAgentPaths.StateDirectory(), "spool")
            : Directory;
}
