using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text;
using Relay.Bench.Prompts;
using Relay.Bench.Scenarios;

namespace Relay.Bench;

/// <summary>One line of the table.</summary>
internal sealed record ReportRow(string Id, string Title, string Result, string Target, bool? Met, string Baseline, string Ratio, string ServerCpu, string PostgresCpu)
{
    public string MetText => Met switch
    {
        true => "yes",
        false => "NO",
        null => "—",
    };

    public static ReportRow Failed(string id, string title, string target, string why) =>
        new(id, title, "FAILED: " + why, target, false, "—", "—", "—", "—");
}

/// <summary>Turns measurements into table rows, and the rows into the console table and the markdown section.</summary>
internal static class Report
{
    public const double IngestTarget = 20_000;
    public const double LatencyP99TargetMs = 50;
    public const double BytesPerStreamTarget = 64 * 1024;
    public const int StreamsTarget = 5_000;

    /// <summary>"Idle CPU near zero", made concrete: the broker below 5 % of one core while its streams idle.</summary>
    public const double IdleCpuTargetPercent = 5;

    private const string BeginMarker = "<!-- bench:broker:begin (written by relay-bench --markdown; edit outside these markers) -->";
    private const string EndMarker = "<!-- bench:broker:end -->";

    public static ReportRow Ingest(Throughput m, Throughput? baseline) => new(
        $"ingest-{m.Concurrency}",
        $"durable hook-event ingest, {Agents(m.Concurrency)}, saturating",
        $"{Count(m.Rate)} events/s; ack p50 {Ms(m.P50Ms)} ms, p99 {Ms(m.P99Ms)} ms",
        $"≥ {Count(IngestTarget)} events/s",
        m.Rate >= IngestTarget,
        baseline is null ? "—" : $"{Count(baseline.Rate)} events/s",
        baseline is null || baseline.Rate <= 0 ? "—" : $"{m.Rate / baseline.Rate:0.0}×",
        Us(m.ServerCpuUsPerEvent) + " µs",
        m.PostgresCpuUsPerEvent is { } pg ? Us(pg) + " µs" : "—");

    public static ReportRow Latency(Throughput m, Throughput? baseline) => new(
        "ingest-10k-latency",
        $"ack latency at {Count(m.OfferedRate ?? 0)} events/s offered, {Agents(m.Concurrency)}",
        $"ack p50 {Ms(m.P50Ms)} ms, p99 {Ms(m.P99Ms)} ms; {Count(m.Rate)} events/s acked",
        $"p99 ≤ {LatencyP99TargetMs:0} ms",
        m.P99Ms <= LatencyP99TargetMs && m.Rate >= (m.OfferedRate ?? 0) * 0.95,
        baseline is null ? "—" : $"p99 {Ms(baseline.P99Ms)} ms at {Count(baseline.Rate)} events/s (its most, {Agents(baseline.Concurrency)})",
        "—",
        Us(m.ServerCpuUsPerEvent) + " µs",
        m.PostgresCpuUsPerEvent is { } pg ? Us(pg) + " µs" : "—");

    public static ReportRow Baseline(Throughput m) => new(
        $"baseline-http-insert ({m.Concurrency})",
        $"baseline: HTTP POST + one INSERT and commit per event, {m.Concurrency} concurrent client(s)",
        $"{Count(m.Rate)} events/s; response p50 {Ms(m.P50Ms)} ms, p99 {Ms(m.P99Ms)} ms",
        "—",
        null,
        "(is the baseline)",
        "1.0×",
        Us(m.ServerCpuUsPerEvent) + " µs",
        m.PostgresCpuUsPerEvent is { } pg ? Us(pg) + " µs" : "—");

    public static ReportRow CapacityRow(Capacity m) => new(
        "capacity-idle",
        $"idle agent streams held open with heartbeats ({Count(m.Streams)})",
        $"{Count(m.Streams)} streams; {Kib(m.BytesPerStream)} KiB broker RSS per stream ({Mib(m.ResidentBefore)} → {Mib(m.ResidentAfter)} MiB); " +
        $"idle CPU {m.BrokerCpuPercent:0.0} % broker" + (m.PostgresCpuPercent is { } pg ? $", {pg:0.0} % PostgreSQL" : string.Empty) +
        $" over {m.IdleSeconds:0} s; all opened in {m.ConnectSeconds:0.0} s",
        $"{Count(StreamsTarget)} streams at ≤ 64 KiB each, idle CPU near zero (≤ {IdleCpuTargetPercent:0} %)",
        m.Streams >= StreamsTarget && m.BytesPerStream <= BytesPerStreamTarget && m.BrokerCpuPercent <= IdleCpuTargetPercent,
        "—",
        "—",
        "—",
        "—");

    public const double RoundTripP50TargetMs = 5;
    public const double RoundTripP99TargetMs = 25;
    public const string RoundTripTarget = "p50 ≤ 5 ms, p99 ≤ 25 ms at 100 prompts/s";

    public static ReportRow PromptRoundTrip(RoundTrip m) => new(
        "prompt-roundtrip",
        $"prompt round trip: SendPrompt accepted → relay-channel event → reply tool → stored → watcher sees it; {Count(m.OfferedRate)} prompts/s offered, " +
        (m.Sessions == 1 ? "1 session" : $"{m.Sessions} sessions"),
        RoundTripSummary(m),
        RoundTripTarget,
        RoundTrip.Ms(m.AcceptedToSeen, 0.50) <= RoundTripP50TargetMs && RoundTrip.Ms(m.AcceptedToSeen, 0.99) <= RoundTripP99TargetMs && m.Rate >= m.OfferedRate * 0.95,
        "—",
        "—",
        Us(m.BrokerCpuUsPerPrompt) + " µs",
        m.PostgresCpuUsPerPrompt is { } pg ? Us(pg) + " µs" : "—");

    /// <summary>The round trip's figures: accepted → seen, due → seen, and the p50 of each step.</summary>
    public static string RoundTripSummary(RoundTrip m) =>
        $"p50 {Ms(RoundTrip.Ms(m.AcceptedToSeen, 0.50))} ms, p99 {Ms(RoundTrip.Ms(m.AcceptedToSeen, 0.99))} ms " +
        $"(from when due: p50 {Ms(RoundTrip.Ms(m.DueToSeen, 0.50))} ms, p99 {Ms(RoundTrip.Ms(m.DueToSeen, 0.99))} ms); " +
        $"steps, p50: send lag {Ms(RoundTrip.Ms(m.DueToCall, 0.50))} ms, SendPrompt {Ms(RoundTrip.Ms(m.CallToAccepted, 0.50))} ms, " +
        $"→ channel event {Ms(RoundTrip.Ms(m.AcceptedToNotified, 0.50))} ms, reply tool {Ms(RoundTrip.Ms(m.NotifiedToReplied, 0.50))} ms, " +
        $"→ watcher {Ms(RoundTrip.Ms(m.RepliedToSeen, 0.50))} ms; {Count(m.Prompts)} prompts" +
        (m.Prompts < m.Scheduled ? $" of {Count(m.Scheduled)} scheduled (the sender stopped {PromptSchedule.MaxLag.TotalSeconds:0} s behind)" : string.Empty) +
        $", {m.Rate:0.#} replies/s";

    public static void PrintTable(TextWriter output, IReadOnlyList<ReportRow> rows)
    {
        string[] header = ["Scenario", "Result", "Target", "Met?", "Baseline", "Ratio", "Server CPU/event", "PostgreSQL CPU/event"];
        var cells = rows.Select(r => new[] { r.Id, r.Result, r.Target, r.MetText, r.Baseline, r.Ratio, r.ServerCpu, r.PostgresCpu }).ToList();
        var widths = header.Select((h, i) => Math.Max(h.Length, cells.Count == 0 ? 0 : cells.Max(c => c[i].Length))).ToArray();
        output.WriteLine(string.Join("  ", header.Select((h, i) => h.PadRight(widths[i]))).TrimEnd());
        output.WriteLine(string.Join("  ", widths.Select(w => new string('-', w))));
        foreach (var row in cells)
        {
            output.WriteLine(string.Join("  ", row.Select((c, i) => c.PadRight(widths[i]))).TrimEnd());
        }
    }

    public static string Markdown(IReadOnlyList<ReportRow> rows, RunInfo run, BenchOptions options)
    {
        var md = new StringBuilder();
        md.AppendLine(BeginMarker);
        md.AppendLine(CultureInfo.InvariantCulture, $"Measured {run.Started:yyyy-MM-dd HH:mm} UTC by `relay-bench {options.CommandLine}`.");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"- Machine: {run.Machine}.");
        md.AppendLine(CultureInfo.InvariantCulture, $"- PostgreSQL: {run.Postgres}.");
        md.AppendLine(CultureInfo.InvariantCulture, $"- Load average (1/5/15 min) before the run: {run.LoadBefore}; after: {run.LoadAfter}. The broker, PostgreSQL and the load generator share the cores, and the machine is shared with other work.");
        md.AppendLine(CultureInfo.InvariantCulture, $"- Ingest and baseline: {options.BrokerWarmup.TotalSeconds:0} s of unmeasured ingest load first (the broker's JIT tiering settles), then per scenario {options.Warmup.TotalSeconds:0.#} s warm-up and {options.Duration.TotalSeconds:0.#} s measured, one run each. Idle streams: {options.IdleWindow.TotalSeconds:0} s idle window.");
        if (options.Runs("prompt-roundtrip"))
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"- Prompt round trip: {options.PromptRate:0.#} prompts/s on a fixed schedule to {options.PromptSessions} simulated Claude session(s), each with a real relay-channel, through one real relay-agent; {options.PromptWarmup.TotalSeconds:0.#} s warm-up at that rate, then {options.Duration.TotalSeconds:0.#} s measured. Its CPU columns are per prompt.");
        }

        if (options.Runs("ingest-10k-latency") || options.Runs("prompt-roundtrip") || options.Runs("hook-http"))
        {
            md.AppendLine("- Before ingest-10k-latency, prompt-roundtrip and hook-http (figures at a fixed load): a VACUUM (ANALYZE) of the database, a CHECKPOINT, and up to 30 s for autovacuum workers to finish, so that the saturating scenarios' backlog in PostgreSQL is not charged to them (DatabaseSettle.cs).");
        }

        md.AppendLine("- Server CPU/event is the broker's (or the baseline server's) process CPU per event stored; PostgreSQL CPU/event is the postmaster's and its backends'. 100 µs/event on both together is the whole of one core at 10,000 events/s.");
        if (AgentScenarios.Ids.Any(options.Runs))
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"- Agent scenarios (real relay-agent daemons, run as {Hosting.AgentProcess.Program.Description}): hook-http {options.AgentBench.HookRequests} hooks after 200 warm-up hooks (its CPU column is the relay-agent daemon's per hook); hook-command {options.AgentBench.HookRuns} runs after 3 warm-ups; recovery {options.AgentBench.RecoveryAgents} agents at {options.AgentBench.RecoveryRate:0} hooks/s in total, broker down 5 s plus its restart.");
        }

        md.AppendLine();
        md.AppendLine("| Scenario | What | Result | Target | Met? | Baseline | Ratio | Server CPU/event | PostgreSQL CPU/event |");
        md.AppendLine("|---|---|---|---|---|---|---|---:|---:|");
        foreach (var r in rows)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| `{r.Id}` | {r.Title} | {r.Result} | {r.Target} | {r.MetText} | {r.Baseline} | {r.Ratio} | {r.ServerCpu} | {r.PostgresCpu} |");
        }

        md.Append(EndMarker);
        return md.ToString();
    }

    /// <summary>Replaces the section between the broker markers, leaving the rest of the file (the gRPC figures too) alone.</summary>
    public static void WriteMarkdown(string path, string section)
    {
        var text = File.Exists(path) ? File.ReadAllText(path) : "# Benchmarks\n";
        var begin = text.IndexOf("<!-- bench:broker:begin", StringComparison.Ordinal);
        var end = text.IndexOf(EndMarker, StringComparison.Ordinal);
        text = begin >= 0 && end > begin
            ? string.Concat(text.AsSpan(0, begin), section, text.AsSpan(end + EndMarker.Length))
            : text.TrimEnd() + "\n\n## Broker figures\n\n" + section + "\n";
        var temp = path + ".tmp";
        File.WriteAllText(temp, text);
        File.Move(temp, path, overwrite: true);
    }

    private static string Agents(int n) => n == 1 ? "1 agent" : $"{n} agents";

    public static string Count(double value) => double.IsFinite(value) ? value.ToString("N0", CultureInfo.InvariantCulture) : "n/a";

    private static string Ms(double value) => double.IsFinite(value) ? value.ToString(value < 10 ? "0.00" : "0.0", CultureInfo.InvariantCulture) : "n/a";

    private static string Us(double value) => double.IsFinite(value) ? value.ToString("0", CultureInfo.InvariantCulture) : "n/a";

    private static string Kib(double bytes) => (bytes / 1024).ToString("0.0", CultureInfo.InvariantCulture);

    private static string Mib(long bytes) => (bytes / 1024.0 / 1024.0).ToString("0", CultureInfo.InvariantCulture);
}

/// <summary>When and where the run happened, as the docs must state it.</summary>
internal sealed record RunInfo(DateTimeOffset Started, string Machine, string Postgres, string LoadBefore, string LoadAfter);

/// <summary>The machine, as the docs state it.</summary>
internal static class MachineInfo
{
    public static string Describe()
    {
        var cpu = ProcField("/proc/cpuinfo", "model name") ?? RuntimeInformation.ProcessArchitecture.ToString();
        var memKb = ProcField("/proc/meminfo", "MemTotal")?.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        var memory = long.TryParse(memKb, NumberStyles.None, CultureInfo.InvariantCulture, out var kb)
            ? (kb / 1024.0 / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " GiB"
            : "unknown";
        return $"{Environment.ProcessorCount} cores (nproc), {cpu}, {memory} RAM, {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}, " +
               $"load generator on {(GCSettings.IsServerGC ? "server" : "workstation")} GC";
    }

    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "unknown";
        }
    }

    private static string? ProcField(string path, string key)
    {
        try
        {
            return File.ReadLines(path)
                .Select(line => (line, colon: line.IndexOf(':', StringComparison.Ordinal)))
                .Where(l => l.colon > 0 && l.line[..l.colon].Trim() == key)
                .Select(l => l.line[(l.colon + 1)..].Trim())
                .FirstOrDefault();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
