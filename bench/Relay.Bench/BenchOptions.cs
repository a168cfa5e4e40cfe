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
    string CommandLine,
    AgentBenchOptions AgentBench)
{
    private const string Usage = """
        usage: relay-bench [options]
          --duration <s>       measured seconds per ingest scenario (default 10; 1–600)
          --warmup <s>         warm-up seconds before each measurement (default 3; 0–60)
          --broker-warmup <s>  seconds of ingest load, not measured, before the first scenario, so the broker's
                               code is compiled at its final tier when measuring starts (default 20; 0–300)
          --agents <list>      agent counts of the ingest scenarios and the baseline (default 1,10,100)
          --streams <n>        idle agent streams held open by capacity-idle (default 5000; 1–50000)
          --idle <s>           idle window over which capacity-idle measures CPU (default 20; 1–600)
          --rate <n>           offered load of ingest-10k-latency, events/s (default 10000)
          --latency-agents <n> agents sharing that load (default 10)
          --ack-trace <file>   write each event of ingest-10k-latency (when due, ack latency) to <file>, to find
                               when the tail happened (see AckTrace.cs)
          --prompt-rate <n>    prompts/s prompt-roundtrip sends on a fixed schedule, over warm-up + duration
                               (default 100; 1–1000)
          --prompt-sessions <n>
                               simulated Claude sessions (one relay-channel each) sharing them (default 1; 1–20)
          --prompt-warmup <s>  prompts sent at that rate, not measured, before prompt-roundtrip measures, so the
                               new agent and channel processes and the broker's prompt path are compiled at their
                               final tier (default 45; 0–300)
          --hook-requests <n>  http hooks hook-http measures after 200 warm-up hooks (default 2000; 10–100000)
          --hook-runs <n>      relay-agent hook runs hook-command measures after 3 warm-ups (default 30; 3–1000)
          --recovery-agents <n> relay-agent daemons in recovery (default 10; 1–100)
          --recovery-rate <n>  hooks/s they are fed in total during recovery (default 200; 10–5000)
          --agent-dir <dir>    run relay-agent from this directory (an installed agent: `dotnet publish src/Agent
                               -c Release -r linux-x64 --self-contained false`, ReadyToRun) instead of the build
                               output beside relay-bench; `make bench` passes its own publish
          --database <cs>      an Npgsql connection string for the broker (and the baseline) instead of the
                               embedded PostgreSQL in a temporary data directory
          --only <ids>         comma-separated scenario ids: ingest,ingest-10k-latency,baseline-http-insert,
                               hook-http,hook-command,recovery,capacity-idle,prompt-roundtrip
          --markdown <file>    rewrite the broker figures section of <file> (e.g. docs/benchmarks.md)
        """;

    /// <summary>Every scenario id, in the order they run.</summary>
    public static readonly IReadOnlyList<string> ScenarioIds = ["ingest", "ingest-10k-latency", "prompt-roundtrip", "baseline-http-insert", "hook-http", "hook-command", "recovery", "capacity-idle"];

    /// <summary>prompt-roundtrip's offered load, prompts/s.</summary>
    public double PromptRate { get; init; } = 100;

    /// <summary>prompt-roundtrip's simulated Claude sessions.</summary>
    public int PromptSessions { get; init; } = 1;

    /// <summary>prompt-roundtrip's unmeasured warm-up at its rate.</summary>
    public TimeSpan PromptWarmup { get; init; } = TimeSpan.FromSeconds(45);

    /// <summary>Where ingest-10k-latency writes every event's due time and ack latency; null: nowhere.</summary>
    public string? AckTrace { get; init; }

    /// <summary>Unmeasured ingest load before the first ingest scenario (JIT tiering settles).</summary>
    public TimeSpan BrokerWarmup { get; init; } = TimeSpan.FromSeconds(20);

    public bool Runs(string id) => Only is null || Only.Contains(id);

    public static BenchOptions? Parse(string[] args, TextWriter error)
    {
        var duration = 10.0;
        var warmup = 3.0;
        var brokerWarmup = 20.0;
        var promptWarmup = 45.0;
        List<int> agents = [1, 10, 100];
        var streams = 5000;
        var idle = 20.0;
        var rate = 10_000.0;
        var latencyAgents = 10;
        var promptRate = 100.0;
        var promptSessions = 1;
        string? database = null;
        string? markdown = null;
        string? ackTrace = null;
        HashSet<string>? only = null;
        var agentBench = new AgentBenchOptions();
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
                    case "--broker-warmup":
                        brokerWarmup = Number(Next(), 0, 300, arg);
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
                    case "--ack-trace":
                        ackTrace = Path.GetFullPath(Next());
                        break;
                    case "--prompt-rate":
                        promptRate = Number(Next(), 1, 1000, arg);
                        break;
                    case "--prompt-sessions":
                        promptSessions = (int)Number(Next(), 1, 20, arg);
                        break;
                    case "--prompt-warmup":
                        promptWarmup = Number(Next(), 0, 300, arg);
                        break;
                    case "--hook-requests":
                        agentBench = agentBench with { HookRequests = (int)Number(Next(), 10, 100_000, arg) };
                        break;
                    case "--agent-dir":
                        var directory = Path.GetFullPath(Next());
                        agentBench = agentBench with
                        {
                            AgentDirectory = File.Exists(Path.Combine(directory, "relay-agent"))
                                ? directory
                                : throw new FormatException($"--agent-dir {directory} holds no relay-agent program; publish it there first."),
                        };
                        break;
                    case "--hook-runs":
                        agentBench = agentBench with { HookRuns = (int)Number(Next(), 3, 1000, arg) };
                        break;
                    case "--recovery-agents":
                        agentBench = agentBench with { RecoveryAgents = (int)Number(Next(), 1, 100, arg) };
                        break;
                    case "--recovery-rate":
                        agentBench = agentBench with { RecoveryRate = Number(Next(), 10, 5000, arg) };
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
            rate, latencyAgents, database, markdown, only, string.Join(' ', args.Select(a => a == database ? "<connection string>" : a)), agentBench)
        {
            BrokerWarmup = TimeSpan.FromSeconds(brokerWarmup),
            PromptRate = promptRate,
            PromptSessions = promptSessions,
            PromptWarmup = TimeSpan.FromSeconds(promptWarmup),
            AckTrace = ackTrace,
        };
    }

    private static double Number(string text, double min, double max, string option) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new FormatException($"{option} takes a number from {min} to {max}, not '{text}'.");
}

/// <summary>The options of the scenarios that run real relay-agent daemons (hook-http, hook-command, recovery).</summary>
/// <param name="HookRequests">Http hooks measured by hook-http.</param>
/// <param name="HookRuns">relay-agent hook runs measured by hook-command with the agent up (a third as many with it down).</param>
/// <param name="RecoveryAgents">Daemons fed hooks while the broker is killed and restarted.</param>
/// <param name="RecoveryRate">Hooks per second offered to them in total.</param>
/// <param name="AgentDirectory">Where relay-agent is run from (a published agent); null: the build output beside relay-bench.</param>
internal sealed record AgentBenchOptions(int HookRequests = 2000, int HookRuns = 30, int RecoveryAgents = 10, double RecoveryRate = 200, string? AgentDirectory = null);
