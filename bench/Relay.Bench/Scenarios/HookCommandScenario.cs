using Relay.Bench.Agents;
using Relay.Bench.Hosting;

namespace Relay.Bench.Scenarios;

/// <summary>Wall times of the <c>relay-agent hook</c> client.</summary>
/// <param name="Program">How it was run (<see cref="AgentProcess.Program"/>).</param>
/// <param name="Up">Runs against a running agent, ms, sorted.</param>
/// <param name="Answered">Of those, runs the agent answered within the client's deadline (the others failed open).</param>
/// <param name="Down">Runs with the agent stopped (failing open, leaving a drop file), ms, sorted.</param>
/// <param name="Stored">What reached the broker's database (warm-ups and drop-file replays included).</param>
internal sealed record HookCommandTimes(string Program, double[] Up, int Answered, double[] Down, StoredCheck Stored)
{
    public double UpP50Ms => Percentile(Up, 0.50);

    public double UpP99Ms => Percentile(Up, 0.99);

    public double DownP50Ms => Percentile(Down, 0.50);

    private static double Percentile(double[] sorted, double quantile) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(quantile * sorted.Length) - 1, 0, sorted.Length - 1)];
}

/// <summary>
/// The SessionStart command hook as Claude Code runs it: the program <c>relay-agent install</c> writes (the apphost
/// beside relay-bench), a SessionStart input on stdin, the machine's environment, against a real <c>relay-agent run</c>.
/// Wall time from process start to exit, sequentially; then with the agent stopped (the client fails open and leaves a
/// drop file). Finally the agent is started again and every SessionStart, replayed ones included, must be stored once.
/// </summary>
internal static class HookCommandScenario
{
    private const int Warmups = 3;
    private static readonly TimeSpan StoreTimeout = TimeSpan.FromSeconds(60);

    public static async Task<HookCommandTimes> RunAsync(BrokerProcess broker, int runs, string prefix, CancellationToken cancellationToken)
    {
        await using var agent = await AgentProcess.StartAsync(broker, prefix, cancellationToken);
        var sent = new List<string>();
        for (var i = 0; i < Warmups; i++)
        {
            await RunHookAsync(agent, sent, cancellationToken);
        }

        var up = new double[runs];
        var answered = 0;
        for (var i = 0; i < runs; i++)
        {
            var (elapsed, failedOpen) = await RunHookAsync(agent, sent, cancellationToken);
            up[i] = elapsed;
            answered += failedOpen ? 0 : 1;
        }

        await agent.StopAsync();
        var down = new double[Math.Max(3, runs / 3)];
        for (var i = 0; i < down.Length; i++)
        {
            var (elapsed, failedOpen) = await RunHookAsync(agent, sent, cancellationToken);
            if (!failedOpen)
            {
                throw new ScenarioFailedException("relay-agent hook said nothing about failing open although the agent was stopped");
            }

            down[i] = elapsed;
        }

        // Started again, the agent replays the drop files the client left; nothing may be lost or doubled.
        await agent.StartAsync(waitForBroker: true, cancellationToken);
        var stored = await StoredHooks.WaitAndCheckAsync(broker.ConnectionString, [agent.MachineId], sent, StoreTimeout, cancellationToken);
        if (!stored.ExactlyOnce)
        {
            throw new ScenarioFailedException($"of {sent.Count} SessionStart hooks run, the broker's database holds: {stored}");
        }

        Array.Sort(up);
        Array.Sort(down);
        return new HookCommandTimes(AgentProcess.Program.Description, up, answered, down, stored);
    }

    /// <summary>One run; its wall time in ms and whether it failed open (it says so on stderr).</summary>
    private static async Task<(double Ms, bool FailedOpen)> RunHookAsync(AgentProcess agent, List<string> sent, CancellationToken cancellationToken)
    {
        var (json, sessionId) = ClaudeHookPayloads.SessionStart();
        var result = await agent.RunCommandAsync(["hook"], json, new Dictionary<string, string>
        {
            ["CLAUDE_PROJECT_DIR"] = "/home/dev/project",
            ["CLAUDE_CODE_ENTRYPOINT"] = "cli",
        }, cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new ScenarioFailedException($"relay-agent hook exited {result.ExitCode} (it must always exit 0): {result.Stderr.Trim()}");
        }

        sent.Add("SessionStart/" + sessionId);
        return (result.Elapsed.TotalMilliseconds, result.Stderr.Contains("relay-agent hook:", StringComparison.Ordinal));
    }
}
