namespace Relay.Broker.Watch;

/// <summary>Logs of the watch feature (event ids 3100–3199).</summary>
internal static partial class WatchLog
{
    [LoggerMessage(EventId = 3100, EventName = "FeedStarted", Level = LogLevel.Debug, Message = "Live event feed started at position {Position}")]
    public static partial void FeedStarted(ILogger logger, long position);

    [LoggerMessage(EventId = 3101, EventName = "FeedFailed", Level = LogLevel.Warning, Message = "Live event feed could not read the event log; retrying in {RetryIn}")]
    public static partial void FeedFailed(ILogger logger, Exception exception, TimeSpan retryIn);

    [LoggerMessage(EventId = 3102, EventName = "WatcherOverflowed", Level = LogLevel.Information, Message = "A watcher fell more than {Capacity} events behind and is told to resume from its cursor")]
    public static partial void WatcherOverflowed(ILogger logger, int capacity);

    [LoggerMessage(EventId = 3103, EventName = "StalledWriteGraceStarted", Level = LogLevel.Debug,
        Message = "A watch has to end while a response write waits on its watcher; the watcher has {Grace} to take it and read why")]
    public static partial void StalledWriteGraceStarted(ILogger logger, TimeSpan grace);

    [LoggerMessage(EventId = 3104, EventName = "StalledWatcherReset", Level = LogLevel.Information,
        Message = "A watch had to end while a response write waited on a watcher that did not take it within {Grace}; its stream is reset")]
    public static partial void StalledWriteReset(ILogger logger, TimeSpan grace);
}
