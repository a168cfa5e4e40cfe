namespace Relay.Broker.Access;

/// <summary>
/// PostgreSQL keeps timestamps to the microsecond; .NET clocks tick in 100 ns. Times that are stored and also echoed in
/// a response are truncated first, so the response and every later read agree exactly.
/// </summary>
internal static class StoredTime
{
    public static DateTimeOffset GetUtcNowForStorage(this TimeProvider time) => ForStorage(time.GetUtcNow());

    /// <summary><paramref name="time"/> truncated to the microsecond, as PostgreSQL stores it.</summary>
    public static DateTimeOffset ForStorage(DateTimeOffset time) => time.AddTicks(-(time.UtcTicks % TimeSpan.TicksPerMicrosecond));
}
