using System.Globalization;

namespace Relay.Bench;

/// <summary>The command line of relay-bench.</summary>
internal sealed record BenchOptions(
    TimeSpan Duration,
    TimeSpan Warmup,
    IReadOnlyList<int> Agents,
    int IdleStreams,
    TimeSpan IdleWindow,
    double LatencyRate,
    int LatencyAgents,
    string? Database,
    string? Markdown,
    IReadOnlySet<string>? Only,
    string CommandLine)
{
    private const string Usage = """
        usage: relay-bench [options]
          --duration <s>       measured seconds per ingest scenario (default 10; 1–600)
          --warmup <s>         warm-up seconds before each measurement (default 3; 0–60)
          --agents <list>      agent counts of the ingest scenarios and the baseline (default 1,10,100)
          --streams <n>        idle agent streams held open by capacity-idle (default 5000; 1–50000)
          --idle <s>           idle window over which capacity-idle measures CPU (default 20; 1–600)
          --rate <n>           offered load of ingest-10k-latency, events/s (default 10000)
          --latency-agents <n> agents sharing that load (default 10)
          --prompt-rate <n>    prompts/s prompt-roundtrip sends on a fixed schedule, over warm-up + duration
                               (default 100; 1–1000)
          --prompt-sessions <n>
                               simulated Claude sessions (one relay-channel each) sharing them (default 1; 1–20)
          --database <cs>      an Npgsql connection string for the broker (and the baseline) instead of the
                               embedded PostgreSQL in a temporary data directory
          --only <ids>         comma-separated scenario ids: ingest,ingest-10k-latency,capacity-idle,baseline-http-insert,prompt-roundtrip
          --markdown <file>    rewrite the broker figures section of <file> (e.g. docs/benchmarks.md)
        """;

    /// <summary>Every scenario id, in the order they run.</summary>
    public static readonly IReadOnlyList<string> ScenarioIds = ["ingest", "ingest-10k-latency", "prompt-roundtrip", "baseline-http-insert", "capacity-idle"];

    /// <summary>prompt-roundtrip's offered load, prompts/s.</summary>
    public double PromptRate { get; init; } = 100;

    /// <summary>prompt-roundtrip's simulated Claude sessions.</summary>
    public int PromptSessions { get; init; } = 1;

    public bool Runs(string id) => Only is null || Only.Contains(id);

    public static BenchOptions? Parse(string[] args, TextWriter error)
    {
        var duration = 10.0;
        var warmup = 3.0;
        List<int> agents = [1, 10, 100];
        var streams = 5000;
        var idle = 20.0;
        var rate = 10_000.0;
        var latencyAgents = 10;
        var promptRate = 100.0;
        var promptSessions = 1;
        string? database = null;
        string? markdown = null;
        HashSet<string>? only = null;
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{arg} needs a value.");
            try
            {
                switch (arg)
                {
                    case "--duration":
                        duration = Number(Next(), 1, 600, arg);
                        break;
                    case "--warmup":
                        warmup = Number(Next(), 0, 60, arg);
                        break;
                    case "--agents":
                        agents = [.. Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(a => (int)Number(a, 1, 1000, arg))];
                        if (agents.Count == 0)
                        {
                            throw new FormatException("--agents needs at least one count, e.g. 1,10,100.");
                        }

                        break;
                    case "--streams":
                        streams = (int)Number(Next(), 1, 50_000, arg);
                        break;
                    case "--idle":
                        idle = Number(Next(), 1, 600, arg);
                        break;
                    case "--rate":
                        rate = Number(Next(), 1, 1_000_000, arg);
                        break;
                    case "--latency-agents":
                        latencyAgents = (int)Number(Next(), 1, 1000, arg);
                        break;
                    case "--prompt-rate":
                        promptRate = Number(Next(), 1, 1000, arg);
                        break;
                    case "--prompt-sessions":
                        promptSessions = (int)Number(Next(), 1, 20, arg);
                        break;
                    case "--database":
                        database = Next();
                        break;
                    case "--markdown":
                        markdown = Next();
                        break;
                    case "--only":
                        only = [.. Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
                        if (only.FirstOrDefault(id => !ScenarioIds.Contains(id)) is { } unknown)
                        {
                            throw new FormatException($"Unknown scenario '{unknown}'; the scenarios are {string.Join(", ", ScenarioIds)}.");
                        }

                        break;
                    case "-h" or "--help":
                        error.WriteLine(Usage);
                        return null;
                    default:
                        throw new FormatException($"Unknown option '{arg}'.");
                }
            }
            catch (FormatException ex)
            {
                error.WriteLine($"relay-bench: {ex.Message}");
                error.WriteLine(Usage);
                return null;
            }
        }

        return new BenchOptions(TimeSpan.FromSeconds(duration), TimeSpan.FromSeconds(warmup), agents, streams, TimeSpan.FromSeconds(idle),
            rate, latencyAgents, database, markdown, only, string.Join(' ', args.Select(a => a == database ? "<connection string>" : a)))
        {
            PromptRate = promptRate,
            PromptSessions = promptSessions,
        };
    }

    private static double Number(string text, double min, double max, string option) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new FormatException($"{option} takes a number from {min} to {max}, not '{text}'.");
}
