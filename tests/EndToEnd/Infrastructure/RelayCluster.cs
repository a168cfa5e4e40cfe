using System.Text.Json;
using Relay.Agent.Tests.Infrastructure;
using Relay.Broker.Tests.Infrastructure;
using Relay.Tests.Shared.ClaudeCode;

namespace Relay.EndToEnd.Tests.Infrastructure;

/// <summary>
/// The suite's shared world: one relay-broker process (embedded PostgreSQL; can be SIGKILLed and restarted), two
/// machines A and B each with its own HOME, agent directories, socket, hook port and <c>relay-agent run</c> daemon,
/// and relayctl as the admin. Scenarios share it (one collection, run one after another) and keep their sessions apart
/// by Claude session id. Launched Claude sessions talk to <see cref="LaunchStub"/>.
/// </summary>
public sealed class RelayCluster : IAsyncLifetime
{
    public RelayCluster()
    {
        Relayctl = new Relayctl(() => Broker.Address, () => Broker.AdminToken);
    }

    public LinkBrokerProcess Broker { get; } = new();

    internal Relayctl Relayctl { get; }

    /// <summary>The Messages API stub that Claude sessions launched by an agent (relayctl launch) are pointed at.</summary>
    public MessagesApiStub LaunchStub { get; private set; } = null!;

    internal RelayMachine A { get; private set; } = null!;

    internal RelayMachine B { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        using var timeout = TestTimeout.Start();
        LaunchStub = await MessagesApiStub.StartAsync(timeout.Token);
        await Broker.InitializeAsync();
        A = new RelayMachine("a", LaunchStub.BaseUrl);
        B = new RelayMachine("b", LaunchStub.BaseUrl);
        await Task.WhenAll(
            A.StartAsync(Relayctl, Broker.Address, timeout.Token),
            B.StartAsync(Relayctl, Broker.Address, timeout.Token));
    }

    public async Task DisposeAsync()
    {
        foreach (var machine in new[] { A, B })
        {
            if (machine is not null)
            {
                await machine.DisposeAsync();
            }
        }

        await Broker.DisposeAsync();
        if (LaunchStub is not null)
        {
            await LaunchStub.DisposeAsync();
        }
    }

    /// <summary>
    /// The Relay session holding <paramref name="claudeSessionId"/> as seen by <c>relayctl sessions list --all --json</c>,
    /// polled until <paramref name="ready"/> holds (bounded by the token).
    /// </summary>
    internal async Task<JsonElement> WaitForSessionAsync(string claudeSessionId, Func<JsonElement, bool> ready, CancellationToken cancellationToken)
    {
        JsonElement? last = null;
        while (true)
        {
            var list = await Relayctl.JsonAsync("sessions", "list", "--all", "--text", claudeSessionId);
            var matches = SessionsHolding(list, claudeSessionId);
            if (matches.Count == 1 && ready(matches[0]))
            {
                return matches[0];
            }

            last = list;
            if (cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"No single ready session holds Claude session {claudeSessionId}; last listing: {last}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(300), CancellationToken.None);
        }
    }

    /// <summary>The sessions in a <c>sessions list --json</c> answer whose current Claude id is <paramref name="claudeSessionId"/> (the listing has no lineages).</summary>
    internal static List<JsonElement> SessionsHolding(JsonElement list, string claudeSessionId) =>
        list.GetProperty("sessions").EnumerateArray()
            .Where(s => s.GetProperty("claude_session_id").GetString() == claudeSessionId)
            .ToList();

    /// <summary>Every event of a session's history (<c>sessions history --json</c>), all pages.</summary>
    internal async Task<List<JsonElement>> HistoryAsync(string session, params string[] kinds)
    {
        var events = new List<JsonElement>();
        var pageToken = string.Empty;
        for (var page = 0; page < 50; page++)
        {
            var args = new List<string> { "sessions", "history", session, "--limit", "500" };
            foreach (var kind in kinds)
            {
                args.AddRange(["--kind", kind]);
            }

            if (pageToken.Length > 0)
            {
                args.AddRange(["--page-token", pageToken]);
            }

            var history = await Relayctl.JsonAsync([.. args]);
            events.AddRange(history.GetProperty("events").EnumerateArray());
            pageToken = history.TryGetProperty("next_page_token", out var next) ? next.GetString() ?? string.Empty : string.Empty;
            if (pageToken.Length == 0)
            {
                return events;
            }
        }

        throw new InvalidOperationException("sessions history did not end after 50 pages.");
    }

    /// <summary>The hook event names of a history, in order.</summary>
    internal static List<string> HookNames(IEnumerable<JsonElement> events) =>
        events.Where(e => e.TryGetProperty("hook", out _))
            .Select(e => e.GetProperty("hook").GetProperty("hook_event_name").GetString()!)
            .ToList();
}

[CollectionDefinition(Name)]
public sealed class RelayClusterCollection : ICollectionFixture<RelayCluster>
{
    public const string Name = "relay cluster (broker + machines A and B)";
}
