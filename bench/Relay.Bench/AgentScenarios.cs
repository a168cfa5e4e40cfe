using Relay.Bench.Hosting;
using Relay.Bench.Scenarios;

namespace Relay.Bench;

/// <summary>The scenarios that run real relay-agent daemons: hook-http, hook-command, recovery (in that order).</summary>
internal static class AgentScenarios
{
    /// <summary>Their scenario ids.</summary>
    public static readonly IReadOnlyList<string> Ids = ["hook-http", "hook-command", "recovery"];

    /// <summary>
    /// Runs those of them <c>options</c> selects, each through <c>attempt</c> (BenchRun's AttemptAsync, which turns a failed
    /// check into a FAILED row and false); false when one failed its checks.
    /// </summary>
    public static async Task<bool> RunAsync(
        BenchOptions options, BrokerProcess broker, List<ReportRow> rows, Func<string, string> prefix, Action<string> progress,
        Func<string, string, Func<Task>, Task<bool>> attempt, CancellationToken cancellationToken)
    {
        var ok = true;
        var o = options.AgentBench;
        if (options.Runs("hook-http"))
        {
            ok &= await attempt("hook-http", $"p50 ≤ {AgentReport.HookHttpP50TargetMs:0} ms, p99 ≤ {AgentReport.HookHttpP99TargetMs:0} ms", async () =>
            {
                progress(await DatabaseSettle.RunAsync(broker, cancellationToken));
                var m = await HookHttpScenario.RunAsync(broker, o.HookRequests, prefix("hook-http"), cancellationToken);
                rows.Add(AgentReport.HookHttp(m));
                progress($"hook-http: p50 {m.P50Ms:0.00} ms p99 {m.P99Ms:0.00} ms max {m.MaxMs:0.0} ms, {m.Rate:0}/s, agent {m.AgentCpuUsPerHook:0} µs CPU/hook; {m.Stored}");
            });
        }

        if (options.Runs("hook-command"))
        {
            ok &= await attempt("hook-command", $"p50 ≤ {AgentReport.HookCommandP50TargetMs:0} ms", async () =>
            {
                var m = await HookCommandScenario.RunAsync(broker, o.HookRuns, prefix("hook-command"), cancellationToken);
                rows.Add(AgentReport.HookCommand(m));
                progress($"hook-command ({m.Program}): p50 {m.UpP50Ms:0} ms p99 {m.UpP99Ms:0} ms, {m.Answered}/{m.Up.Length} answered; agent down p50 {m.DownP50Ms:0} ms; {m.Stored}");
            });
        }

        if (options.Runs("recovery"))
        {
            ok &= await attempt("recovery", $"all agents back within {AgentReport.RecoveryTargetSeconds:0} s; zero lost or duplicated", async () =>
            {
                var m = await RecoveryScenario.RunAsync(broker, o.RecoveryAgents, o.RecoveryRate, prefix("recovery"), progress, cancellationToken);
                rows.Add(AgentReport.Recovery(m));
                progress($"recovery: down {m.DowntimeSeconds:0.0} s ({m.PostedWhileDown} hooks posted meanwhile), agents back after {m.ReconnectMedianSeconds:0.0} s (median) " +
                         $"{m.ReconnectSeconds:0.0} s (all; longest backoff delay chosen {m.LongestBackoffSeconds:0.0} s), " +
                         $"backlog stored after {m.DrainSeconds:0.0} s, slowest hook {m.SlowestHookMs:0} ms; {m.Stored}");
            });
        }

        return ok;
    }
}
