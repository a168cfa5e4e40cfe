using System.Diagnostics;
using System.Text.Json.Nodes;
using Relay.Broker.Tests.Infrastructure;
using Relay.EndToEnd.Tests.Infrastructure;

namespace Relay.EndToEnd.Tests.Scenarios;

/// <summary>
/// Scenario 3: <c>/clear</c> gives the same Claude process a new session id. Claude Code then sends SessionEnd
/// (reason clear) for the old id and SessionStart (source clear) for the new one, from the same process. A long-lived
/// process runs the installed SessionStart command hook (exactly the command in settings.json, so the agent sees the
/// same parent pid both times) and the http hooks; the broker keeps ONE Relay session whose lineage holds both ids, and
/// that hand-started session (no launcher) is listed exactly once.
/// </summary>
[Collection(RelayClusterCollection.Name)]
public sealed class SessionLineageTests(RelayCluster cluster)
{
    // Runs each SessionStart payload (argv) through the hook command on stdin, then waits for stdin to close.
    private const string FakeClaude = """
        import json, subprocess, sys
        command = json.loads(sys.argv[1])
        for payload in sys.argv[2:]:
            done = subprocess.run(command, input=payload.encode(), capture_output=True, timeout=30)
            print("hook", done.returncode, flush=True)
        print("ready", flush=True)
        sys.stdin.read()
        """;

    [Fact]
    public async Task ClearInOneProcess_NewClaudeSessionId_KeepsOneRelaySessionWithBothIdsInItsLineage()
    {
        using var timeout = TestTimeout.Start();
        var machine = cluster.A;
        var first = Guid.NewGuid().ToString();
        var second = Guid.NewGuid().ToString();
        var settings = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(machine.Home.ClaudeDirectory, "settings.json"), timeout.Token))!;
        var handler = settings["hooks"]!["SessionStart"]![0]!["hooks"]![0]!;
        var command = new JsonArray([(string)handler["command"]!, .. handler["args"]!.AsArray().Select(a => (JsonNode?)(string)a!)]);

        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-c", FakeClaude, command.ToJsonString(), Payload(first, "startup", machine), Payload(second, "clear", machine) })
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in machine.ClaudeEnvironment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        try
        {
            // Between the two SessionStarts Claude ends the old id over http, as /clear does.
            (await process.StandardOutput.ReadLineAsync(timeout.Token)).Should().Be("hook 0");
            var end = await machine.PostHookAsync(new JsonObject
            {
                ["session_id"] = first, ["hook_event_name"] = "SessionEnd", ["reason"] = "clear",
                ["cwd"] = machine.Home.ProjectDirectory, ["transcript_path"] = "/dev/null",
            }, timeout.Token);
            end.Status.Should().Be(System.Net.HttpStatusCode.OK);
            (await process.StandardOutput.ReadLineAsync(timeout.Token)).Should().Be("hook 0");
            (await process.StandardOutput.ReadLineAsync(timeout.Token)).Should().Be("ready");

            var session = await cluster.WaitForSessionAsync(second, s => s.GetProperty("claude_session_id").GetString() == second, timeout.Token);
            session.GetProperty("status").GetString().Should().NotBe("SESSION_STATUS_ENDED");
            session.GetProperty("claude_pid").GetInt32().Should().Be(process.Id);
            session.GetProperty("launch_id").GetString().Should().BeEmpty("it was started by hand");
            // The listing leaves lineages out; `sessions show` resolves any Claude id of a lineage to its session.
            var byFirst = await cluster.Relayctl.JsonAsync("sessions", "show", first);
            var bySecond = await cluster.Relayctl.JsonAsync("sessions", "show", second);
            byFirst.GetProperty("session").GetProperty("session_id").GetString()
                .Should().Be(session.GetProperty("session_id").GetString(), "the old Claude id belongs to the same Relay session");
            var lineage = bySecond.GetProperty("session").GetProperty("lineage").EnumerateArray().ToList();
            lineage.Select(l => l.GetProperty("claude_session_id").GetString()).Should().Equal([first, second], "{0}", bySecond);
            lineage[1].GetProperty("source").GetString().Should().Be("SESSION_START_SOURCE_CLEAR");

            var all = await cluster.Relayctl.JsonAsync("sessions", "list", "--all", "--machine", machine.Name);
            RelayCluster.SessionsHolding(all, second).Should().ContainSingle("the hand-started process appears exactly once");
            RelayCluster.SessionsHolding(all, first).Should().BeEmpty("the old id is no session of its own");
        }
        finally
        {
            process.StandardInput.Close();
            await process.WaitForExitAsync(CancellationToken.None);
        }
    }

    private static string Payload(string sessionId, string source, RelayMachine machine) => new JsonObject
    {
        ["session_id"] = sessionId,
        ["transcript_path"] = "/dev/null",
        ["cwd"] = machine.Home.ProjectDirectory,
        ["hook_event_name"] = "SessionStart",
        ["source"] = source,
    }.ToJsonString();
}
