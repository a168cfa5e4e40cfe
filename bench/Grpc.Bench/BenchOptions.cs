using System.Globalization;

namespace Relay.Grpc.Bench;

/// <summary>The command line.</summary>
internal sealed record BenchOptions(TimeSpan Duration, TimeSpan Warmup, int Runs, int Batch, bool Unix, string? Markdown, IReadOnlySet<string>? Only, string CommandLine)
{
    private const string Usage = """
        usage: relay-grpc-bench [options]
          --duration <s>     measured seconds per scenario (default 5; 0.5–600)
          --warmup <s>       warm-up seconds before each measurement (default 2; 0–60)
          --runs <n>         runs of every scenario; the median is reported (default 3; 1–10)
          --batch <n>        flush at least every n messages in the batched scenarios (default 64; 1–4096)
          --unix             also run every scenario over a Unix socket
          --only <ids>       comma-separated scenario ids: c2s-flush,c2s-batch,s2c-flush,s2c-batch,pingpong,unary-64,unary-1
          --markdown <file>  rewrite the figures section of <file> (e.g. docs/benchmarks.md)
        """;

    public static BenchOptions? Parse(string[] args, TextWriter error)
    {
        var duration = 5.0;
        var warmup = 2.0;
        var runs = 3;
        var batch = 64;
        var unix = false;
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
                        duration = Number(Next(), 0.5, 600, arg);
                        break;
                    case "--warmup":
                        warmup = Number(Next(), 0, 60, arg);
                        break;
                    case "--runs":
                        runs = (int)Number(Next(), 1, 10, arg);
                        break;
                    case "--batch":
                        batch = (int)Number(Next(), 1, 4096, arg);
                        break;
                    case "--unix":
                        unix = true;
                        break;
                    case "--markdown":
                        markdown = Next();
                        break;
                    case "--only":
                        only = [.. Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
                        var known = Scenarios.All(batch).Select(s => s.Id).ToHashSet();
                        if (only.FirstOrDefault(id => !known.Contains(id)) is { } unknown)
                        {
                            throw new FormatException($"Unknown scenario '{unknown}'.");
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
                error.WriteLine($"relay-grpc-bench: {ex.Message}");
                error.WriteLine(Usage);
                return null;
            }
        }

        return new BenchOptions(TimeSpan.FromSeconds(duration), TimeSpan.FromSeconds(warmup), runs, batch, unix, markdown, only,
            string.Join(' ', args));
    }

    private static double Number(string text, double min, double max, string option) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new FormatException($"{option} takes a number from {min} to {max}, not '{text}'.");
}
