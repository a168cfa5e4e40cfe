using System.ComponentModel.DataAnnotations;

namespace Relay.Broker.Watch;

/// <summary>How Watch streams behave. Section <c>Watch</c>.</summary>
internal sealed class WatchOptions
{
    public const string SectionName = "Watch";

    /// <summary>
    /// Live events buffered per watcher. A watcher that falls further behind gets RESOURCE_EXHAUSTED and resumes from
    /// its last cursor (replay reads from the database, not from memory). Default 1024.
    /// </summary>
    [Range(1, 1_000_000, ErrorMessage = "Watch:BufferCapacity must be between 1 and 1000000 events, e.g. 1024.")]
    public int BufferCapacity { get; set; } = 1024;

    /// <summary>How long a watcher may go without any message before it gets a checkpoint (also a keep-alive). Default 15 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00", ErrorMessage = "Watch:CheckpointInterval must be between 10 ms and 10 minutes, e.g. 00:00:15.")]
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How often the live feed looks for new events without a signal: events committed by another broker replica (or
    /// anything that does not publish) show up within this time. Default 1 s.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00", ErrorMessage = "Watch:PollInterval must be between 10 ms and 1 minute, e.g. 00:00:01.")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Events read per query, by the live feed and by replays. Default 256.</summary>
    [Range(1, 10_000, ErrorMessage = "Watch:BatchSize must be between 1 and 10000, e.g. 256.")]
    public int BatchSize { get; set; } = 256;

    /// <summary>
    /// When a watch has to end (its buffer overflowed, or its token was revoked) while a response write waits on a
    /// watcher that is not reading, how long the watcher gets to take that write and so read the status with the
    /// cursor to resume from. After that its stream is reset: gRPC clients see RESOURCE_EXHAUSTED (ENHANCE_YOUR_CALM)
    /// after an overflow, CANCELLED after a revocation. Default 10 s.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00", ErrorMessage = "Watch:StalledWriteGrace must be between 0 and 10 minutes, e.g. 00:00:10.")]
    public TimeSpan StalledWriteGrace { get; set; } = TimeSpan.FromSeconds(10);
}
