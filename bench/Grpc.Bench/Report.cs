using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text;

namespace Relay.Grpc.Bench;

/// <summary>The figure of one scenario on one transport: the median of its runs.</summary>
internal sealed record Row(Scenario Scenario, string Transport, IReadOnlyList<Measurement> Runs)
{
    /// <summary>The run whose key figure is the median (rate for throughput, p50 for latency).</summary>
    public Measurement Median
    {
        get
        {
            var ordered = Scenario.Kind == ScenarioKind.Latency
                ? Runs.OrderBy(r => r.P50Us ?? double.MaxValue).ToList()
                : Runs.OrderBy(r => r.Rate).ToList();
            return ordered[(ordered.Count - 1) / 2];
        }
    }

    public bool? Met => Scenario.Target is { } target ? Median.Rate >= target : null;

    public string Result
    {
        get
        {
            var m = Median;
            return Scenario.Kind switch
            {
                ScenarioKind.Throughput => $"{Format.Count(m.Rate)} msg/s",
                ScenarioKind.Latency => $"p50 {Format.Us(m.P50Us)} µs, p99 {Format.Us(m.P99Us)} µs ({Format.Count(m.Rate)} round trips/s)",
                _ => $"{Format.Count(m.Rate)} calls/s, p50 {Format.Us(m.P50Us)} µs, p99 {Format.Us(m.P99Us)} µs",
            };
        }
    }

    public string RunFigures => string.Join(" / ", Runs.Select(r => Scenario.Kind == ScenarioKind.Latency ? Format.Us(r.P50Us) : Format.Count(r.Rate)));

    public string TargetText => Scenario.Target is { } t
        ? $"≥ {Format.Count(t)} {(Scenario.Kind == ScenarioKind.Throughput ? "msg/s" : "calls/s")}"
        : "—";

    public string MetText => Met switch
    {
        true => "yes",
        false => "NO",
        null => "—",
    };
}

internal static class Format
{
    public static string Count(double value) => double.IsFinite(value) ? value.ToString("N0", CultureInfo.InvariantCulture) : "n/a";

    public static string Us(double? value) => value is { } v && double.IsFinite(v) ? v.ToString(v < 100 ? "N1" : "N0", CultureInfo.InvariantCulture) : "n/a";
}

/// <summary>The machine a run happened on, as the docs must state it.</summary>
internal sealed record MachineInfo(int Cores, string CpuModel, string Memory, string Runtime, string Os, bool ServerGc)
{
    public static MachineInfo Read()
    {
        var cpu = ReadProcField("/proc/cpuinfo", "model name") ?? RuntimeInformation.ProcessArchitecture.ToString();
        var memKb = ReadProcField("/proc/meminfo", "MemTotal")?.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        var memory = long.TryParse(memKb, NumberStyles.None, CultureInfo.InvariantCulture, out var kb)
            ? (kb / 1024.0 / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " GiB"
            : "unknown";
        return new MachineInfo(Environment.ProcessorCount, cpu, memory, RuntimeInformation.FrameworkDescription,
            RuntimeInformation.OSDescription, GCSettings.IsServerGC);
    }

    /// <summary>The 1/5/15-minute load averages: how much else was running on the machine.</summary>
    public static string LoadAverage()
    {
        try
        {
            var parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return string.Join(' ', parts.Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
        catch (UnauthorizedAccessException)
        {
            return "unknown";
        }
    }

    private static string? ReadProcField(string path, string key)
    {
        try
        {
            foreach (var line in File.ReadLines(path))
            {
                var colon = line.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0 && line[..colon].Trim() == key)
                {
                    return line[(colon + 1)..].Trim();
                }
            }
        }
        catch (IOException)
        {
            // Not Linux, or /proc is hidden: the caller falls back.
        }
        catch (UnauthorizedAccessException)
        {
            // As above.
        }

        return null;
    }

    public override string ToString() =>
        $"{Cores} cores (nproc), {CpuModel}, {Memory} RAM, {Runtime}, {Os}, {(ServerGc ? "server" : "workstation")} GC";
}

internal static class Report
{
    public const string BeginMarker = "<!-- bench:figures:begin (written by relay-grpc-bench --markdown; edit outside these markers) -->";
    public const string EndMarker = "<!-- bench:figures:end -->";

    public static void PrintTable(TextWriter output, IReadOnlyList<Row> rows)
    {
        string[] header = ["Scenario", "Transport", "Result (median)", "Runs", "Target", "Met?", "CPU", "CPU/op", "Alloc/op"];
        var cells = rows.Select(r => new[]
        {
            r.Scenario.Title, r.Transport, r.Result, r.RunFigures, r.TargetText, r.MetText,
            Format.Count(r.Median.CpuPercent) + " %", Format.Us(r.Median.CpuUsPerOperation) + " µs", Format.Count(r.Median.BytesPerOperation) + " B",
        }).ToList();
        var widths = header.Select((h, i) => Math.Max(h.Length, cells.Count == 0 ? 0 : cells.Max(c => c[i].Length))).ToArray();
        output.WriteLine(string.Join("  ", header.Select((h, i) => h.PadRight(widths[i]))).TrimEnd());
        output.WriteLine(string.Join("  ", widths.Select(w => new string('-', w))));
        foreach (var row in cells)
        {
            output.WriteLine(string.Join("  ", row.Select((c, i) => c.PadRight(widths[i]))).TrimEnd());
        }
    }

    public static string Markdown(IReadOnlyList<Row> rows, MachineInfo machine, BenchOptions options, DateTimeOffset started, string loadBefore, string loadAfter)
    {
        var md = new StringBuilder();
        md.AppendLine(BeginMarker);
        md.AppendLine(CultureInfo.InvariantCulture, $"Measured {started:yyyy-MM-dd HH:mm} UTC by `relay-grpc-bench {options.CommandLine}`.");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"- Machine: {machine}.");
        md.AppendLine(CultureInfo.InvariantCulture, $"- Load average (1/5/15 min) before the run: {loadBefore}; after: {loadAfter}. Client and server share the cores, and the machine is shared with other work.");
        md.AppendLine(CultureInfo.InvariantCulture, $"- Each scenario: {options.Warmup.TotalSeconds:0.#} s warm-up, then {options.Duration.TotalSeconds:0.#} s measured; {options.Runs} run(s), interleaved, after one short warm-up pass. The result is the median run; \"Runs\" lists every run (msg/s, calls/s, or p50 µs).");
        md.AppendLine("- CPU is the process's CPU time over wall time (200 % = both cores); CPU/op is that CPU time per message or call, which other load on the machine disturbs less than the rate. Alloc/op is every byte the process allocated (client, server, HTTP/2 stacks) per message or call.");
        md.AppendLine();
        md.AppendLine("| Scenario | Transport | Result (median) | Runs | Target | Met? | CPU | CPU/op | Alloc/op |");
        md.AppendLine("|---|---|---|---|---|---|---:|---:|---:|");
        foreach (var r in rows)
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Scenario.Title} | {r.Transport} | {r.Result} | {r.RunFigures} | {r.TargetText} | {r.MetText} | {Format.Count(r.Median.CpuPercent)} % | {Format.Us(r.Median.CpuUsPerOperation)} µs | {Format.Count(r.Median.BytesPerOperation)} B |");
        }

        md.Append(EndMarker);
        return md.ToString();
    }

    /// <summary>Replaces the figures between the markers, leaving the hand-written rest of the file alone.</summary>
    public static void WriteMarkdown(string path, string section)
    {
        string text;
        if (!File.Exists(path))
        {
            text = "# Benchmarks\n\n## Figures\n\n" + section + "\n";
        }
        else
        {
            text = File.ReadAllText(path);
            var begin = text.IndexOf("<!-- bench:figures:begin", StringComparison.Ordinal);
            var end = text.IndexOf(EndMarker, StringComparison.Ordinal);
            text = begin >= 0 && end > begin
                ? string.Concat(text.AsSpan(0, begin), section, text.AsSpan(end + EndMarker.Length))
                : text.TrimEnd() + "\n\n## Figures\n\n" + section + "\n";
        }

        var temp = path + ".tmp";
        File.WriteAllText(temp, text);
        File.Move(temp, path, overwrite: true);
    }
}
