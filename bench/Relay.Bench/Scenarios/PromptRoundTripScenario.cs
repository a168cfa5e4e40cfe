using System.Diagnostics;
using Relay.Bench.Hosting;
using Relay.Bench.Prompts;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Bench.Scenarios;

/// <summary>
/// The prompt round trip of issue 8, through real processes only: <c>Admin.SendPrompt</c> on the broker → the machine's
/// real <c>relay-agent run</c> → a real <c>relay-channel</c> writes <c>notifications/claude/channel</c> → the simulated
/// Claude (the bench, as an MCP client) calls <c>reply</c> at once → the agent spools the reply and the broker stores
/// it → an <c>Admin.Watch</c> watcher sees it. Prompts go out on a fixed schedule; each is timed at every step.
/// </summary>
/// <remarks>
/// What makes the session able to take prompts through its channel is what Claude Code does at start, in that order:
/// it spawns relay-channel from its MCP configuration with its own environment (the machine's agent socket) plus
/// <c>CLAUDE_CODE_SESSION_ID</c> and <c>CLAUDE_PROJECT_DIR</c>, and completes the MCP handshake. The channel's
/// ChannelHello names its parent (the stand-in Claude process, whose command line carries the channel flag, see
/// <see cref="SimulatedClaude"/>); the agent tracks the session as channel-capable with that channel attached, and its
/// ChannelAttached record makes the broker create the session. No hook is needed for channel delivery: the agent routes
/// a prompt to the session's attached channel by the prompt's session (or Claude session) id. Claude Code's
/// SessionStart command hook is not run, because its only effect here would be another spooled event, and run from the
/// bench (not from the stand-in) it would be attributed to another process. The scenario waits until the broker reports
/// every session with its channel attached, then opens the watcher, then sends.
/// </remarks>
internal static class PromptRoundTripScenario
{
    private static readonly TimeSpan SessionWait = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan SessionPoll = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(30);

    /// <summary>After every reply was seen, how long to keep listening for a second notification or reply of any prompt.</summary>
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(1);

    public static async Task<RoundTrip> RunAsync(
        BrokerProcess broker, int sessions, double rate, TimeSpan warmup, TimeSpan duration, string prefix, Action<string> progress, CancellationToken cancellationToken)
    {
        try
        {
            return await RunCoreAsync(broker, sessions, rate, warmup, duration, prefix, progress, cancellationToken);
        }
        catch (InvalidOperationException ex)
        {
            // relay-agent or relay-channel did not start: this scenario cannot run, the others still can.
            throw new ScenarioFailedException("could not set up: " + ex.Message, ex);
        }
    }

    private static async Task<RoundTrip> RunCoreAsync(
        BrokerProcess broker, int sessions, double rate, TimeSpan warmup, TimeSpan duration, string prefix, Action<string> progress, CancellationToken cancellationToken)
    {
        var total = (int)Math.Ceiling(rate * (warmup + duration).TotalSeconds);
        var measuredFrom = Math.Min(total - 1, (int)Math.Ceiling(rate * warmup.TotalSeconds));
        var ledger = new RoundTripLedger(total, sessions, prefix);
        await using var agent = await AgentProcess.StartAsync(broker, prefix + "-machine", cancellationToken);
        progress($"prompt-roundtrip: relay-agent pid {agent.Pid} enrolled as {agent.MachineName}");

        var claudes = new List<SimulatedClaude>();
        using var adminChannel = GrpcChannel.ForAddress(broker.Address);
        try
        {
            for (var s = 0; s < sessions; s++)
            {
                claudes.Add(await SimulatedClaude.StartAsync(s, agent.Environment, Path.Combine(agent.RootDirectory, "projects", $"project-{s}"), ledger, cancellationToken));
            }

            var admin = new Admin.AdminClient(adminChannel);
            var headers = new Metadata { { "authorization", "Bearer " + broker.AdminToken } };
            var known = new List<Session>();
            foreach (var claude in claudes)
            {
                known.Add(await WaitForChannelAsync(admin, headers, claude, agent, cancellationToken));
            }

            progress($"prompt-roundtrip: {sessions} session(s) with relay-channel attached; sending {rate:0.#} prompts/s for {(warmup + duration).TotalSeconds:0.#} s");
            var sessionIndex = known.Select((session, i) => (session.SessionId, i)).ToDictionary(x => x.SessionId, x => x.i, StringComparer.Ordinal);
            await using var watcher = await ReplyWatcher.StartAsync(broker.Address, broker.AdminToken, agent.MachineId.ToString("D"), ledger, sessionIndex, cancellationToken);

            var sending = PromptSchedule.RunAsync(admin, headers, ledger, known.Select(s => s.SessionId).ToList(), rate, cancellationToken);
            await Task.WhenAny(sending, Task.Delay(warmup, cancellationToken));
            var cpu = Cpu(broker, agent, known);
            var commits = await IngestScenario.CommitsAsync(broker, cancellationToken);
            var sent = await sending;
            var drained = await ledger.WaitSeenAsync(sent, DrainTimeout, cancellationToken);
            var cpuUsed = Cpu(broker, agent, known).Minus(cpu);
            commits = await IngestScenario.CommitsAsync(broker, cancellationToken) - commits;
            await Task.Delay(Settle, cancellationToken);

            Check(ledger, sent, drained, watcher, claudes, agent);
            if (sent <= measuredFrom)
            {
                throw new ScenarioFailedException(
                    $"the schedule fell {PromptSchedule.MaxLag.TotalSeconds:0} s behind during the warm-up ({sent} of {ledger.Count} prompts sent); nothing was measured. Try a lower --prompt-rate.");
            }

            return Measure(ledger, measuredFrom, sent, sessions, rate, cpuUsed, commits, watcher.Resumes);
        }
        finally
        {
            await Task.WhenAll(claudes.Select(c => c.DisposeAsync().AsTask()));
        }
    }

    /// <summary>Waits until the broker knows the simulated Claude's session with its channel attached.</summary>
    private static async Task<Session> WaitForChannelAsync(Admin.AdminClient admin, Metadata headers, SimulatedClaude claude, AgentProcess agent, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var seen = "not known to the broker";
        while (clock.Elapsed < SessionWait)
        {
            try
            {
                var response = await admin.GetSessionAsync(
                    new GetSessionRequest { Session = new SessionSelector { ClaudeSessionId = claude.ClaudeSessionId } }, headers, cancellationToken: cancellationToken);
                if (response.Session.ChannelAttached)
                {
                    return response.Session;
                }

                seen = $"known as {response.Session.SessionId} ({response.Session.Status}) without its channel";
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.NotFound)
            {
                // Not yet: the agent's ChannelAttached record is on its way.
            }

            await Task.Delay(SessionPoll, cancellationToken);
        }

        throw new ScenarioFailedException(
            $"simulated Claude {claude.Index} (Claude session {claude.ClaudeSessionId}) was still {seen} after {SessionWait.TotalSeconds:0} s. " +
            $"relay-channel's log:\n{claude.Stderr()}\nrelay-agent's log:\n{agent.Log()}");
    }

    /// <summary>Every prompt sent was accepted, shown to its session once, replied to once, and its one reply seen by the watcher.</summary>
    private static void Check(RoundTripLedger ledger, int sent, bool drained, ReplyWatcher watcher, List<SimulatedClaude> claudes, AgentProcess agent)
    {
        var problems = new List<string>();
        void Count(string what, Func<int, bool> missing)
        {
            var ids = Enumerable.Range(0, sent).Where(missing).ToList();
            if (ids.Count > 0)
            {
                problems.Add($"{ids.Count} of {sent} prompts {what} (e.g. {ledger.Name(ids[0])})");
            }
        }

        Count("were not accepted by SendPrompt", i => ledger.Accepted[i] == 0);
        Count("never reached the simulated Claude as a channel event", i => ledger.Notifications(i) == 0);
        Count("got no \"sent\" from the reply tool", i => ledger.Replies(i) == 0);
        Count($"had no reply seen by the watcher{(drained ? string.Empty : $" within {DrainTimeout.TotalSeconds:0} s of the last send")}", i => ledger.SeenTimes(i) == 0);
        Count("reached the simulated Claude under another prompt id than SendPrompt returned",
            i => ledger.BrokerIds[i] is { } id && ledger.NotifiedIds[i] is { } notified && notified != id);
        Count("had a reply seen by the watcher that names another prompt than SendPrompt returned",
            i => ledger.BrokerIds[i] is { } id && ledger.ReplyInReplyTo[i] is { } inReplyTo && inReplyTo != id);
        problems.AddRange(ledger.Problems().Take(5));
        if (ledger.ProblemCount > 5)
        {
            problems.Add($"(and {ledger.ProblemCount - 5} more like these)");
        }

        if (problems.Count > 0)
        {
            var logs = string.Join('\n', claudes.Select(c => $"relay-channel {c.Index}:\n{c.Stderr()}"));
            throw new ScenarioFailedException(
                string.Join("; ", problems) + $". Watch resumes: {watcher.Resumes}, stray replies: {watcher.Strays}.\n{logs}\nrelay-agent:\n{agent.Log()}");
        }
    }

    private static RoundTrip Measure(RoundTripLedger ledger, int from, int sent, int sessions, double rate, CpuSample cpu, long commits, int resumes)
    {
        var n = sent - from;
        long[] Series(Func<int, long> value)
        {
            var values = new long[n];
            for (var k = 0; k < n; k++)
            {
                values[k] = value(from + k);
            }

            Array.Sort(values);
            return values;
        }

        var lastSeen = Enumerable.Range(from, n).Max(i => ledger.Seen[i]);
        var seconds = (double)(lastSeen - ledger.Due[from]) / Stopwatch.Frequency;
        return new RoundTrip(
            sessions,
            rate,
            ledger.Count - from,
            n,
            seconds,
            Series(i => ledger.Seen[i] - ledger.Accepted[i]),
            Series(i => ledger.Seen[i] - ledger.Due[i]),
            Series(i => ledger.CallStarted[i] - ledger.Due[i]),
            Series(i => ledger.Accepted[i] - ledger.CallStarted[i]),
            Series(i => ledger.Notified[i] - ledger.Accepted[i]),
            Series(i => ledger.Replied[i] - ledger.Notified[i]),
            Series(i => ledger.Seen[i] - ledger.Replied[i]),
            cpu.Broker,
            cpu.Postgres,
            cpu.Agent,
            cpu.Channels,
            commits,
            resumes);
    }

    private static CpuSample Cpu(BrokerProcess broker, AgentProcess agent, List<Session> sessions) => new(
        ProcessStats.CpuSeconds(broker.Pid),
        broker.PostgresPid is { } pg ? ProcessStats.CpuSecondsWithChildren(pg) : null,
        agent.Pid is { } pid ? ProcessStats.CpuSeconds(pid) : 0,
        // The stand-in Claude (bash) is the session's Claude process; relay-channel is its child.
        sessions.Sum(s => ProcessStats.CpuSecondsWithChildren(s.ClaudePid)));

    /// <summary>CPU seconds of the processes on the round trip.</summary>
    private sealed record CpuSample(double Broker, double? Postgres, double Agent, double Channels)
    {
        public CpuSample Minus(CpuSample before) =>
            new(Broker - before.Broker, Postgres - before.Postgres, Agent - before.Agent, Channels - before.Channels);
    }
}
