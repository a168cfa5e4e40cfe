using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Google.Protobuf;
using Relay.Agent.Hooks;
using Relay.Agent.Hooks.Client;
using Relay.Agent.Tests.Hooks.Fakes;
using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;
using Xunit.Abstractions;

namespace Relay.Agent.Tests.Hooks;

/// <summary>
/// Not timed assertions: prints the http hook round trip and the <c>relay-agent hook</c> wall time, and checks that every
/// hook was answered and spooled once. A small load by default; <c>RELAY_MEASURE=1</c> runs the full one
/// (<c>RELAY_MEASURE=1 dotnet test tests/Agent.Tests -c Release --filter Category=Measure --logger "console;verbosity=detailed"</c>).
/// </summary>
[Trait("Category", "Measure")]
[Collection(HookMeasureCollection.Name)]
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
        var downRuns = MeasureLoad.Pick(quick: 3, full: 40);

        // The build output (JIT) always; with RELAY_MEASURE=1 also what users install: a ReadyToRun publish.
        var forms = new List<(string Name, string? Program)> { (AgentProcess.AppHost is null ? "dotnet relay-agent.dll" : "build output, apphost", null) };
        using var published = new TempDirectory("relay-agent-publish-");
        if (MeasureLoad.Full)
        {
            forms.Add(("ReadyToRun publish (linux-x64), apphost", await PublishReadyToRunAsync(published.Path)));
        }

        // The full load is 160+ process starts: on a loaded machine more than the default two minutes.
        using var timeout = MeasureLoad.Full ? new CancellationTokenSource(TimeSpan.FromMinutes(10)) : TestTimeout.Start();
        await using var agent = await TestAgent.StartAsync(timeout.Token);
        agent.Responder.Answer(_ => FakeResponder.SessionStartContext("briefing"));

        // Runs alternate between the forms, so that the machine's changing load weighs on each the same.
        var invocations = 0;
        var up = forms.Select(_ => new List<double>()).ToList();
        var answered = new int[forms.Count];
        foreach (var (_, program) in forms)
        {
            await AgentProcess.RunAsync(["hook"], agent.Paths.Environment, HookPayloads.SessionStart(), timeout.Token, program); // warm the disk cache
            invocations++;
        }

        // The daemon is long-running: let its side of the call reach its steady state (tiered JIT) before measuring.
        for (var i = 0; i < 60; i++)
        {
            var warm = new HookRequest { EventId = Guid.NewGuid().ToString(), RawJson = HookPayloads.SessionStart() }.ToByteArray();
            var reply = await Task.Run(() => GrpcUnaryCall.Invoke(agent.Paths.Socket, HookCommand.HookPath, warm, CallBudget.StartNew(TimeSpan.FromSeconds(30))));
            reply.Status.Should().Be(Relay.Grpc.StatusCode.OK, reply.Detail);
            invocations++;
        }

        for (var i = 0; i < upRuns; i++)
        {
            for (var f = 0; f < forms.Count; f++)
            {
                // The default one-second deadline: on a loaded machine a run may fail open, which is counted, not hidden.
                var result = await AgentProcess.RunAsync(["hook"], agent.Paths.Environment, HookPayloads.SessionStart(), timeout.Token, forms[f].Program);
                invocations++;
                result.ExitCode.Should().Be(0);
                answered[f] += result.Stdout.Contains("briefing", StringComparison.Ordinal) ? 1 : 0;
                up[f].Add(result.Elapsed.TotalMilliseconds);
            }
        }

        using var nowhere = new TempDirectory("relay-agent-measure-");
        var down = forms.Select(_ => new List<double>()).ToList();
        for (var i = 0; i < downRuns; i++)
        {
            for (var f = 0; f < forms.Count; f++)
            {
                var result = await AgentProcess.RunAsync(["hook"], TestAgentPaths.Create(nowhere.Path).Environment, HookPayloads.SessionStart(), timeout.Token, forms[f].Program);
                result.ExitCode.Should().Be(0);
                result.Stdout.Should().BeEmpty();
                result.Stderr.Should().Contain("waits in");
                down[f].Add(result.Elapsed.TotalMilliseconds);
            }
        }

        for (var f = 0; f < forms.Count; f++)
        {
            output.WriteLine($"relay-agent hook wall time ({forms[f].Name}), agent up, {MeasureLoad.Mode}, n={upRuns} ({answered[f]} answered in time): {Summary(up[f])}");
            output.WriteLine($"relay-agent hook wall time ({forms[f].Name}), agent down (fail open + fsync'd drop file), n={downRuns}: {Summary(down[f])}");
        }

        output.WriteLine($"machine load average: {File.ReadAllText("/proc/loadavg").Trim()}");

        // A run that gave up left a drop file; after a replay every invocation is in the spool exactly once.
        await agent.App.Services.GetRequiredService<HookDropReplayer>().ReplayOnceAsync(timeout.Token);
        agent.Spool.HookEvents.Should().HaveCount(invocations).And.OnlyHaveUniqueItems(e => e.EventId);
    }

    /// <summary>Publishes relay-agent as the docs say to install it; returns the apphost.</summary>
    private static async Task<string> PublishReadyToRunAsync(string outputDirectory)
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Relay.sln")))
        {
            root = root.Parent;
        }

        root.Should().NotBeNull("the tests run from inside the repository");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "publish", Path.Combine(root!.FullName, "src", "Agent"), "-c", "Release", "-r", "linux-x64", "--self-contained", "false", "-o", outputDirectory })
        {
            start.ArgumentList.Add(arg);
        }

        // A publish on a loaded two-core machine takes minutes, not the test timeout's two.
        using var publishTimeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(publishTimeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(publishTimeout.Token);
        await process.WaitForExitAsync(publishTimeout.Token);
        process.ExitCode.Should().Be(0, await stdout + await stderr);
        return Path.Combine(outputDirectory, "relay-agent");
    }

    private static string Summary(List<double> samples)
    {
        samples.Sort();
        return $"p50 {samples[samples.Count / 2]:F1} ms, p99 {samples[Math.Min(samples.Count - 1, (int)(samples.Count * 0.99))]:F1} ms, max {samples[^1]:F1} ms";
    }
}

/// <summary>The hook measurements run alone, after the parallel tests: wall times on a 2-core machine mean nothing while
/// other tests share it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HookMeasureCollection
{
    public const string Name = "Hook measurements";
}
