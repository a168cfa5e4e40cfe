using System.Diagnostics;

namespace Relay.Bench.Scenarios;

/// <summary>What one prompt-roundtrip run measured, over the prompts due in the measured window.</summary>
/// <param name="Sessions">Simulated Claude sessions (one relay-channel each).</param>
/// <param name="OfferedRate">Prompts per second on the schedule.</param>
/// <param name="Scheduled">Prompts the measured window's schedule held.</param>
/// <param name="Prompts">Prompts measured: all of <paramref name="Scheduled"/>, unless the sender stopped after falling
/// too far behind (the warm-up's are checked, not counted).</param>
/// <param name="Seconds">From the first measured prompt's due time to the last one's reply seen by the watcher.</param>
/// <param name="AcceptedToSeen">SendPrompt returned → the watcher saw the reply (the round trip), ticks, sorted.</param>
/// <param name="DueToSeen">The prompt was due on the schedule → the watcher saw the reply, ticks, sorted.</param>
/// <param name="DueToCall">Due → its SendPrompt call started (the sender's own lag), ticks, sorted.</param>
/// <param name="CallToAccepted">SendPrompt call started → returned, ticks, sorted.</param>
/// <param name="AcceptedToNotified">SendPrompt returned → the channel event reached the simulated Claude (negative when
/// the event came first), ticks, sorted.</param>
/// <param name="NotifiedToReplied">Channel event → the reply tool call returned, ticks, sorted.</param>
/// <param name="RepliedToSeen">Reply tool returned → the watcher saw the reply (negative when the watcher came first), ticks, sorted.</param>
/// <param name="BrokerCpuSeconds">Broker process CPU over the measured window.</param>
/// <param name="PostgresCpuSeconds">PostgreSQL CPU over the window, when it is the embedded one.</param>
/// <param name="AgentCpuSeconds">relay-agent CPU over the window.</param>
/// <param name="ChannelCpuSeconds">CPU of the relay-channel processes (with their stand-in Claude parents) over the window.</param>
/// <param name="Commits">Database transactions committed over the window (all of the broker's, pg_stat_database).</param>
/// <param name="WatchResumes">Watch streams resumed after the broker ended them for falling behind.</param>
internal sealed record RoundTrip(
    int Sessions,
    double OfferedRate,
    int Scheduled,
    int Prompts,
    double Seconds,
    long[] AcceptedToSeen,
    long[] DueToSeen,
    long[] DueToCall,
    long[] CallToAccepted,
    long[] AcceptedToNotified,
    long[] NotifiedToReplied,
    long[] RepliedToSeen,
    double BrokerCpuSeconds,
    double? PostgresCpuSeconds,
    double AgentCpuSeconds,
    double ChannelCpuSeconds,
    long Commits,
    int WatchResumes)
{
    /// <summary>Replies seen per second over the measured window.</summary>
    public double Rate => Seconds > 0 ? Prompts / Seconds : double.NaN;

    /// <summary>Database transactions per prompt measured (the warm-up's still in flight count too, so an upper bound).</summary>
    public double CommitsPerPrompt => Prompts == 0 ? double.NaN : (double)Commits / Prompts;

    public double BrokerCpuUsPerPrompt => Prompts == 0 ? double.NaN : BrokerCpuSeconds * 1e6 / Prompts;

    public double? PostgresCpuUsPerPrompt => PostgresCpuSeconds is { } pg && Prompts > 0 ? pg * 1e6 / Prompts : null;

    public double AgentCpuUsPerPrompt => Prompts == 0 ? double.NaN : AgentCpuSeconds * 1e6 / Prompts;

    public double ChannelCpuUsPerPrompt => Prompts == 0 ? double.NaN : ChannelCpuSeconds * 1e6 / Prompts;

    /// <summary>The <paramref name="quantile"/> of sorted Stopwatch-tick values, in milliseconds.</summary>
    public static double Ms(long[] sorted, double quantile)
    {
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        var rank = Math.Clamp((int)Math.Ceiling(quantile * sorted.Length) - 1, 0, sorted.Length - 1);
        return sorted[rank] * 1000.0 / Stopwatch.Frequency;
    }
}
