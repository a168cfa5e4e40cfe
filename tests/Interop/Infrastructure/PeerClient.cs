using System.Text.Json;

namespace Relay.Interop.Tests.Infrastructure;

/// <summary>One case's outcome as a stock interop client reported it (one JSON line on its stdout).</summary>
internal sealed record PeerCaseResult(string Case, bool Ok, string Detail, IReadOnlyList<string>? Services);

/// <summary>The result of running a stock interop client once.</summary>
internal sealed record PeerClientRun(int? ExitCode, IReadOnlyList<PeerCaseResult> Results, string Stdout, string Stderr)
{
    /// <summary>A readable account of the run, for assertion messages.</summary>
    public string Describe() =>
        $"exit code {(ExitCode is { } code ? code.ToString(System.Globalization.CultureInfo.InvariantCulture) : "none (killed after the time limit)")}\n" +
        $"stdout:\n{Stdout}\nstderr:\n{Stderr}";
}

/// <summary>Runs the stock interop clients (tests/Interop/peers/*/interop_client.*).</summary>
internal static class PeerClient
{
    /// <summary>Per-case limit the peer applies itself (RPC deadline and watchdog).</summary>
    public const int CaseTimeoutSeconds = 10;

    /// <summary>Our own limit on the whole process: the peer's watchdog plus start-up, with room to spare.</summary>
    private static readonly TimeSpan s_processTimeout = TimeSpan.FromSeconds(CaseTimeoutSeconds + 20);

    public static async Task<PeerClientRun> RunAsync(Peer peer, string target, string caseName)
    {
        await using var process = await PeerProcess.StartAsync(peer, "interop_client",
            ["--target", target, "--case", caseName, "--timeout-seconds", CaseTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

        // The clients read nothing: close stdin so nothing can wait on it.
        process.CloseStandardInput();
        var stdoutTask = process.StandardOutput.ReadToEndAsync();
        var exitCode = await process.WaitForExitAsync(s_processTimeout);
        var stdout = await stdoutTask.WaitAsync(TimeSpan.FromSeconds(5));
        return new PeerClientRun(exitCode, Parse(stdout), stdout, process.Stderr);
    }

    private static List<PeerCaseResult> Parse(string stdout)
    {
        var results = new List<PeerCaseResult>();
        foreach (var line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            using var json = ParseLine(line);
            var root = json.RootElement;
            List<string>? services = null;
            if (root.TryGetProperty("services", out var list))
            {
                services = [.. list.EnumerateArray().Select(e => e.GetString() ?? string.Empty)];
            }

            results.Add(new PeerCaseResult(
                root.GetProperty("case").GetString() ?? string.Empty,
                root.GetProperty("ok").GetBoolean(),
                root.TryGetProperty("detail", out var detail) ? detail.GetString() ?? string.Empty : string.Empty,
                services));
        }

        return results;
    }

    private static JsonDocument ParseLine(string line)
    {
        try
        {
            return JsonDocument.Parse(line);
        }
        catch (JsonException ex)
        {
            throw new InvalidOperationException($"The peer client broke its output contract (one JSON object per line): {line}", ex);
        }
    }
}
