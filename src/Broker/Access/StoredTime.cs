namespace Relay.Broker.Access;

/// <summary>
/// PostgreSQL keeps timestamps to the microsecond; .NET clocks tick in 100 ns. Times that are stored and also echoed in
/// a response are truncated first, so the response and every later read agree exactly.
/// </summary>
internal static class StoredTime
{
    public static DateTimeOffset GetUtcNowForStorage(this TimeProvider time)
    {
        var now = time.GetUtcNow();
        return now.AddTicks(-(now.UtcTicks % TimeSpan.TicksPerMicrosecond));
    }
}
