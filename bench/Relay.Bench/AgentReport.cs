using System.Globalization;
using Relay.Bench.Scenarios;

namespace Relay.Bench;

/// <summary>Table rows of the scenarios that run real relay-agent daemons, against issue 8's targets.</summary>
internal static class AgentReport
{
    public const double HookHttpP50TargetMs = 1;
    public const double HookHttpP99TargetMs = 5;
    public const double HookCommandP50TargetMs = 50;
    public const double RecoveryTargetSeconds = 10;

    public static ReportRow HookHttp(HookOverhead m) => new(
        "hook-http",
        "Claude Code's http hook answered by a real relay-agent (event fsync'd in its spool first), sequential, one kept-alive connection",
        $"p50 {Ms(m.P50Ms)} ms, p99 {Ms(m.P99Ms)} ms, max {Ms(m.MaxMs)} ms over {Report.Count(m.Requests)} hooks ({Report.Count(m.Rate)}/s); " +
        $"all {Report.Count(m.Stored.Rows)} in the broker's database once",
        $"p50 ≤ {HookHttpP50TargetMs:0} ms, p99 ≤ {HookHttpP99TargetMs:0} ms",
        m.P50Ms <= HookHttpP50TargetMs && m.P99Ms <= HookHttpP99TargetMs,
        "—",
        "—",
        $"{Us(m.AgentCpuUsPerHook)} µs (agent)",
        "—");

    public static ReportRow HookCommand(HookCommandTimes m) => new(
        "hook-command",
        $"`relay-agent hook` (SessionStart command hook) wall time, process start to exit, run as {m.Program}",
        $"p50 {Ms(m.UpP50Ms)} ms, p99 {Ms(m.UpP99Ms)} ms over {m.Up.Length} runs ({m.Answered} answered in time); " +
        $"agent down, failing open: p50 {Ms(m.DownP50Ms)} ms over {m.Down.Length} runs; all {Report.Count(m.Stored.Rows)} SessionStart events stored once",
        $"p50 ≤ {HookCommandP50TargetMs:0} ms",
        m.UpP50Ms <= HookCommandP50TargetMs,
        "—",
        "—",
        "—",
        "—");

    public static ReportRow Recovery(RecoveryFigures m) => new(
        "recovery",
        $"broker SIGKILLed and restarted under load: {m.Agents} relay-agent daemons fed {Report.Count(m.OfferedRate)} hooks/s through their http hooks",
        $"all {m.Agents} agents back {Seconds(m.ReconnectSeconds)} s after the broker was ready (median {Seconds(m.ReconnectMedianSeconds)} s; " +
        $"longest agent backoff delay {Seconds(m.LongestBackoffSeconds)} s; the broker was down {Seconds(m.DowntimeSeconds)} s, " +
        $"{Report.Count(m.PostedWhileDown)} hooks posted meanwhile, slowest hook {Ms(m.SlowestHookMs)} ms); spools drained {Seconds(m.DrainSeconds)} s after ready; " +
        $"{Report.Count(m.Stored.Rows)} of {Report.Count(m.Posted)} events stored, {m.Stored.Missing} lost, {m.Stored.Duplicated} duplicated",
        $"all agents back within {RecoveryTargetSeconds:0} s; spool drained; zero lost or duplicated",
        m.ReconnectSeconds <= RecoveryTargetSeconds && m.Stored.ExactlyOnce,
        "—",
        "—",
        "—",
        "—");

    private static string Ms(double value) =>
        double.IsFinite(value) ? value.ToString(value < 10 ? "0.00" : "0.0", CultureInfo.InvariantCulture) : "n/a";

    private static string Us(double value) => double.IsFinite(value) ? value.ToString("0", CultureInfo.InvariantCulture) : "n/a";

    private static string Seconds(double value) => double.IsFinite(value) ? value.ToString("0.0", CultureInfo.InvariantCulture) : "n/a";
}
