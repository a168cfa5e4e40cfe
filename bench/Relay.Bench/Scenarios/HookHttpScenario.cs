using System.Diagnostics;
using System.Net;
using System.Text;
using Relay.Bench.Agents;
using Relay.Bench.Hosting;

namespace Relay.Bench.Scenarios;

/// <summary>Latencies of hooks answered by a real agent.</summary>
/// <param name="Requests">Hooks measured.</param>
/// <param name="Latencies">Round trips in Stopwatch ticks, sorted.</param>
/// <param name="Seconds">Wall time of the measured hooks.</param>
/// <param name="AgentCpuSeconds">The daemon's CPU over them.</param>
/// <param name="Stored">What reached the broker's database (warm-up included).</param>
internal sealed record HookOverhead(int Requests, long[] Latencies, double Seconds, double AgentCpuSeconds, StoredCheck Stored)
{
    public double Rate => Requests / Seconds;

    public double P50Ms => Measure.PercentileMs(Latencies, 0.50);

    public double P99Ms => Measure.PercentileMs(Latencies, 0.99);

    public double MaxMs => Measure.PercentileMs(Latencies, 1.0);

    public double AgentCpuUsPerHook => AgentCpuSeconds * 1e6 / Requests;
}

/// <summary>
/// Claude Code's http hooks against a real <c>relay-agent run</c>: sequential POSTs of realistic hook inputs (turns of
/// UserPromptSubmit, PreToolUse/PostToolUse, Stop) to its loopback endpoint on one kept-alive connection, each answered
/// only after the event is fsync'd in the agent's spool. Afterwards every event must be in the broker's database once.
/// </summary>
internal static class HookHttpScenario
{
    private const int Warmup = 200;
    private static readonly TimeSpan StoreTimeout = TimeSpan.FromSeconds(60);

    public static async Task<HookOverhead> RunAsync(BrokerProcess broker, int requests, string prefix, CancellationToken cancellationToken)
    {
        await using var agent = await AgentProcess.StartAsync(broker, prefix, cancellationToken);
        using var http = Client();
        var payloads = new ClaudeHookPayloads(prefix);
        var sent = new List<string>(Warmup + requests);
        for (var i = 0; i < Warmup; i++)
        {
            await PostAsync(http, agent, payloads, sent, cancellationToken);
        }

        var latencies = new long[requests];
        var cpu = ProcessStats.CpuSeconds(agent.Pid ?? 0);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < requests; i++)
        {
            latencies[i] = await PostAsync(http, agent, payloads, sent, cancellationToken);
        }

        var seconds = clock.Elapsed.TotalSeconds;
        var cpuUsed = ProcessStats.CpuSeconds(agent.Pid ?? 0) - cpu;
        var stored = await StoredHooks.WaitAndCheckAsync(broker.ConnectionString, [agent.MachineId], sent, StoreTimeout, cancellationToken);
        if (!stored.ExactlyOnce)
        {
            throw new ScenarioFailedException($"of {sent.Count} hooks answered, the broker's database holds: {stored}");
        }

        Array.Sort(latencies);
        return new HookOverhead(requests, latencies, seconds, cpuUsed, stored);
    }

    /// <summary>One connection, kept alive, as a long-running Claude process reuses it.</summary>
    internal static HttpClient Client() => new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = 1,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        UseProxy = false,
    })
    { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>POSTs the next hook of <paramref name="payloads"/>; its round trip in Stopwatch ticks. Anything but 200 fails the scenario.</summary>
    internal static async Task<long> PostAsync(HttpClient http, AgentProcess agent, ClaudeHookPayloads payloads, List<string> sent, CancellationToken cancellationToken)
    {
        var (json, key) = payloads.Create(sent.Count);
        using var request = new HttpRequestMessage(HttpMethod.Post, agent.HookUrl) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Add(AgentProcess.HookSecretHeader, agent.HookSecret);
        var started = Stopwatch.GetTimestamp();
        HttpStatusCode status;
        string body;
        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            body = await response.Content.ReadAsStringAsync(cancellationToken);
            status = response.StatusCode;
        }
        catch (HttpRequestException ex)
        {
            throw new ScenarioFailedException($"{agent.MachineName}: the http hook failed ({ex.Message}). Agent log:\n{agent.Log()}", ex);
        }

        var elapsed = Stopwatch.GetTimestamp() - started;
        if (status != HttpStatusCode.OK)
        {
            throw new ScenarioFailedException($"{agent.MachineName}: the http hook was answered {(int)status}: {body}");
        }

        sent.Add(key);
        return elapsed;
    }
}

/// <summary>Percentiles of sorted samples.</summary>
internal static class Measure
{
    /// <summary>The <paramref name="quantile"/> of sorted Stopwatch ticks, in ms (NaN when there are none).</summary>
    public static double PercentileMs(long[] sortedTicks, double quantile)
    {
        if (sortedTicks.Length == 0)
        {
            return double.NaN;
        }

        var rank = Math.Clamp((int)Math.Ceiling(quantile * sortedTicks.Length) - 1, 0, sortedTicks.Length - 1);
        return sortedTicks[rank] * 1000.0 / Stopwatch.Frequency;
    }
}
