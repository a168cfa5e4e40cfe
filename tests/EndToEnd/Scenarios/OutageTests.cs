using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Relay.Broker.Tests.Infrastructure;
using Relay.EndToEnd.Tests.Infrastructure;

namespace Relay.EndToEnd.Tests.Scenarios;

/// <summary>
/// Scenarios 4 and 5: the broker SIGKILLed and restarted while hooks keep coming, and an agent SIGKILLed while its
/// events wait in the spool. Every hook is answered fast, every event is stored exactly once, the session stays live.
/// </summary>
[Collection(RelayClusterCollection.Name)]
public sealed class OutageTests(RelayCluster cluster)
{
    // Claude Code's own bound is the hook timeout (10 s); the agent promises far less whatever the broker does.
    private static readonly TimeSpan FastAnswer = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task BrokerKilledMidTraffic_HooksKeepFiring_EveryEventStoredOnceAndSessionLive()
    {
        using var timeout = TestTimeout.Start();
        var machine = cluster.A;
        var claudeId = Guid.NewGuid().ToString();
        var sent = 0;
        var slowest = TimeSpan.Zero;
        async Task SendAsync()
        {
            var answer = await machine.PostHookAsync(ToolHook(claudeId, ++sent, machine), timeout.Token);
            answer.Status.Should().Be(HttpStatusCode.OK, answer.Body);
            slowest = answer.Elapsed > slowest ? answer.Elapsed : slowest;
        }

        for (var i = 0; i < 10; i++)
        {
            await SendAsync();
        }

        cluster.A.Daemon.ResetConnected();
        cluster.B.Daemon.ResetConnected();
        await cluster.Broker.KillAsync();
        for (var i = 0; i < 10; i++)
        {
            await SendAsync();
        }

        // Restarting takes seconds (PostgreSQL recovery); hooks keep firing the whole time and a while after.
        var restart = cluster.Broker.RestartAsync();
        var whileRestarting = 0;
        while (!restart.IsCompleted && whileRestarting++ < 2000)
        {
            await SendAsync();
        }

        await restart;
        for (var i = 0; i < 10; i++)
        {
            await SendAsync();
        }

        await Task.WhenAll(cluster.A.Daemon.WaitForBrokerAsync(timeout.Token), cluster.B.Daemon.WaitForBrokerAsync(timeout.Token));
        slowest.Should().BeLessThan(FastAnswer);
        await AssertStoredOnceAsync(claudeId, sent, timeout.Token);
        var live = await cluster.Relayctl.JsonAsync("sessions", "list", "--machine", machine.Name);
        RelayCluster.SessionsHolding(live, claudeId).Should().ContainSingle("the session is still live after the outage");
    }

    [Fact]
    public async Task AgentKilledWithSpooledEvents_BothRestarted_EveryEventArrivesOnce()
    {
        using var timeout = TestTimeout.Start();
        var machine = cluster.B;
        var claudeId = Guid.NewGuid().ToString();
        const int count = 25;
        cluster.A.Daemon.ResetConnected();
        await cluster.Broker.KillAsync();
        for (var i = 1; i <= count; i++)
        {
            var answer = await machine.PostHookAsync(ToolHook(claudeId, i, machine), timeout.Token);
            answer.Status.Should().Be(HttpStatusCode.OK);
            answer.Elapsed.Should().BeLessThan(FastAnswer);
        }

        var spool = Directory.EnumerateFiles(Path.Combine(machine.StateDirectory, "spool"), "*", SearchOption.AllDirectories).ToList();
        spool.Should().NotBeEmpty("the events wait in the on-disk spool");
        await machine.Daemon.KillAsync();

        await cluster.Broker.RestartAsync();
        await machine.Daemon.StartAsync(waitForBroker: true, timeout.Token);
        await cluster.A.Daemon.WaitForBrokerAsync(timeout.Token);
        await AssertStoredOnceAsync(claudeId, count, timeout.Token);
    }

    private async Task AssertStoredOnceAsync(string claudeId, int count, CancellationToken cancellationToken)
    {
        var session = await cluster.WaitForSessionAsync(claudeId, _ => true, cancellationToken);
        var stopwatch = Stopwatch.StartNew();
        List<string?> ids;
        while (true)
        {
            var history = await cluster.HistoryAsync(session.GetProperty("session_id").GetString()!, "hook");
            ids = history.Select(e => e.GetProperty("hook").GetProperty("fields").GetProperty("tool_use_id").GetString()).ToList();
            if (ids.Count >= count || cancellationToken.IsCancellationRequested)
            {
                break;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(300), CancellationToken.None);
        }

        ids.Should().HaveCount(count, "every hook is stored exactly once (waited {0})", stopwatch.Elapsed);
        ids.Should().OnlyHaveUniqueItems();
        ids.Should().BeEquivalentTo(Enumerable.Range(1, count).Select(ToolUseId));
    }

    private static string ToolUseId(int n) => "toolu_e2e_" + n.ToString("D4", System.Globalization.CultureInfo.InvariantCulture);

    private static JsonObject ToolHook(string claudeId, int n, RelayMachine machine) => new()
    {
        ["session_id"] = claudeId,
        ["transcript_path"] = "/dev/null",
        ["cwd"] = machine.Home.ProjectDirectory,
        ["hook_event_name"] = "PostToolUse",
        ["tool_name"] = "Bash",
        ["tool_input"] = new JsonObject { ["command"] = "true" },
        ["tool_response"] = new JsonObject { ["stdout"] = "" },
        ["tool_use_id"] = ToolUseId(n),
    };
}
