using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Relay.Agent.Hooks;
using Relay.Agent.Tests.Hooks.Fakes;
using Relay.Broker.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Relay.Agent.Tests.Hooks;

/// <summary>
/// Not timed assertions: prints the http hook round trip and the <c>relay-agent hook</c> wall time, and checks that every
/// hook was answered and spooled once. A small load by default; <c>RELAY_MEASURE=1</c> runs the full one
/// (<c>RELAY_MEASURE=1 dotnet test tests/Agent.Tests -c Release --filter Category=Measure --logger "console;verbosity=detailed"</c>).
/// </summary>
[Trait("Category", "Measure")]
public sealed class HookMeasureTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Measure_HttpHookRoundTrip_WithAnFsyncingSpool()
    {
        var count = MeasureLoad.Pick(quick: 200, full: 3000);
        using var timeout = TestTimeout.Start();
        using var root = new TempDirectory("relay-agent-measure-");
        var paths = TestAgentPaths.Create(root.Path);
        Directory.CreateDirectory(paths.StateDirectory);

        // Until the link's DiskSpool is merged: a spool that writes and fsyncs a file per append, as durable as the real one.
        using var spool = new FakeSpool { FsyncFile = Path.Combine(paths.StateDirectory, "spool.bin") };
        await using var agent = await TestAgent.StartAsync(timeout.Token, paths, spool: spool);
        for (var i = 0; i < 20; i++)
        {
            using var warm = await agent.PostHookAsync(HookPayloads.PreToolUse(), timeout.Token);
        }

        var latencies = new List<double>(count);
        for (var i = 0; i < count; i++)
        {
            var payload = i % 2 == 0 ? HookPayloads.PreToolUse(toolUseId: "toolu_" + i) : HookPayloads.Of("PostToolUse", extra: p => p["tool_use_id"] = "toolu_" + i);
            var started = Stopwatch.GetTimestamp();
            using var response = await agent.PostHookAsync(payload, timeout.Token);
            await response.Content.ReadAsStringAsync(timeout.Token);
            latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            response.StatusCode.Should().Be(HttpStatusCode.OK);
        }

        output.WriteLine($"http hook round trip, {MeasureLoad.Mode}, fsync per append, sequential, n={count}: {Summary(latencies)}");
        spool.HookEvents.Should().HaveCount(count + 20, "every hook is spooled exactly once");
    }

    [Fact]
    public async Task Measure_HookClientWallTime_AgentUpAndAgentDown()
    {
        var upRuns = MeasureLoad.Pick(quick: 8, full: 40);
        var downRuns = MeasureLoad.Pick(quick: 3, full: 10);
        using var timeout = TestTimeout.Start();
        await using var agent = await TestAgent.StartAsync(timeout.Token);
        agent.Responder.Answer(_ => FakeResponder.SessionStartContext("briefing"));
        await AgentProcess.RunAsync(["hook"], agent.Paths.Environment, HookPayloads.SessionStart(), timeout.Token); // warm the disk cache

        var up = new List<double>();
        var answered = 0;
        for (var i = 0; i < upRuns; i++)
        {
            // The default one-second deadline: on a loaded machine a run may fail open, which is counted, not hidden.
            var result = await AgentProcess.RunAsync(["hook"], agent.Paths.Environment, HookPayloads.SessionStart(), timeout.Token);
            result.ExitCode.Should().Be(0);
            answered += result.Stdout.Contains("briefing", StringComparison.Ordinal) ? 1 : 0;
            up.Add(result.Elapsed.TotalMilliseconds);
        }

        using var nowhere = new TempDirectory("relay-agent-measure-");
        var down = new List<double>();
        for (var i = 0; i < downRuns; i++)
        {
            var result = await AgentProcess.RunAsync(["hook"], TestAgentPaths.Create(nowhere.Path).Environment, HookPayloads.SessionStart(), timeout.Token);
            result.ExitCode.Should().Be(0);
            result.Stdout.Should().BeEmpty();
            down.Add(result.Elapsed.TotalMilliseconds);
        }

        var runner = AgentProcess.AppHost is null ? "dotnet relay-agent.dll" : "apphost";
        output.WriteLine($"relay-agent hook wall time ({runner}), agent up, {MeasureLoad.Mode}, n={upRuns} ({answered} answered in time): {Summary(up)}");
        output.WriteLine($"relay-agent hook wall time ({runner}), agent down (fail open + drop file), n={downRuns}: {Summary(down)}");
        output.WriteLine($"machine load average: {File.ReadAllText("/proc/loadavg").Trim()}");

        // A run that gave up left a drop file; after a replay every invocation is in the spool exactly once.
        await agent.App.Services.GetRequiredService<HookDropReplayer>().ReplayOnceAsync(timeout.Token);
        agent.Spool.HookEvents.Should().HaveCount(upRuns + 1).And.OnlyHaveUniqueItems(e => e.EventId);
    }

    private static string Summary(List<double> samples)
    {
        samples.Sort();
        return $"p50 {samples[samples.Count / 2]:F1} ms, p99 {samples[Math.Min(samples.Count - 1, (int)(samples.Count * 0.99))]:F1} ms, max {samples[^1]:F1} ms";
    }
}
