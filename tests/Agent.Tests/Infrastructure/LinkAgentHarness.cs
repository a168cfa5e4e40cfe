using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Logging.Abstractions;
using Relay.Agent.Config;
using Relay.Agent.Link;
using Relay.Agent.Spool;
using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;

namespace Relay.Agent.Tests.Infrastructure;

/// <summary>
/// One relay-agent's link side in-process: a configuration directory, a state directory with a real
/// <see cref="DiskSpool"/>, a recording <see cref="IBrokerInbound"/> and a <see cref="BrokerLink"/> that can be stopped
/// and started again on the same directories (an agent restart).
/// </summary>
internal sealed class LinkAgentHarness : IAsyncDisposable
{
    private readonly TempDirectory _home = new("relay-agent-link-");
    private BrokerLink? _link;
    private TaskCompletionSource _linkChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public LinkAgentHarness(TimeProvider? time = null)
    {
        Directory.CreateDirectory(_home.Path);
        Time = time ?? TimeProvider.System;
        Store = new AgentConfigStore(Path.Combine(_home.Path, "config"));
        Spool = new LinkObservedSpool(OpenSpool());
    }

    public TimeProvider Time { get; }

    public AgentConfigStore Store { get; }

    public string StateDirectory => Path.Combine(_home.Path, "state");

    public LinkObservedSpool Spool { get; }

    public LinkRecordingInbound Inbound { get; private set; } = new();

    public BrokerLink Link => _link ?? throw new InvalidOperationException("The link is not started.");

    public BrokerLinkOptions Options { get; } = new()
    {
        InitialBackoff = TimeSpan.FromMilliseconds(100),
        MaxBackoff = TimeSpan.FromSeconds(1),
        AuthFailureBackoff = TimeSpan.FromHours(1),
        NotEnrolledPollInterval = TimeSpan.FromMilliseconds(200),
    };

    /// <summary>Enrols with <paramref name="broker"/> through <c>relay-agent enroll</c>'s code; returns the machine name.</summary>
    public async Task<string> EnrollAsync(LinkBrokerProcess broker, CancellationToken cancellationToken)
    {
        var name = "link-" + Guid.NewGuid().ToString("N")[..10];
        var token = await broker.CreateEnrollmentTokenAsync(name, cancellationToken);
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await EnrollCommand.RunAsync(new EnrollArguments(broker.Address, token, null, null), Store, output, error, cancellationToken);
        exit.Should().Be(0, error.ToString());
        return name;
    }

    /// <summary>Starts a new link (a new agent process as far as the broker can tell).</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Options.StateDirectory = StateDirectory;
        var link = new BrokerLink(Store, Spool, Inbound, Microsoft.Extensions.Options.Options.Create(Options), Time, NullLogger<BrokerLink>.Instance);
        link.ConnectionChanged += _ => Interlocked.Exchange(ref _linkChanged, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        _link = link;
        await link.StartAsync(cancellationToken);
    }

    /// <summary>Stops the link (the agent's shutdown); the spool and the position stay.</summary>
    public async Task StopAsync()
    {
        if (_link is { } link)
        {
            await link.StopAsync(CancellationToken.None);
            link.Dispose();
            _link = null;
        }
    }

    /// <summary>Waits until the link's connection state is <paramref name="connected"/>.</summary>
    public async Task WaitConnectedAsync(bool connected, CancellationToken cancellationToken)
    {
        while (true)
        {
            var changed = Volatile.Read(ref _linkChanged).Task;
            if (Link.IsConnected == connected)
            {
                return;
            }

            await changed.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Waits until the broker has acknowledged everything spooled.</summary>
    public Task WaitDrainedAsync(CancellationToken cancellationToken) =>
        Spool.WaitUntilAsync(s => s.Stats.Items == 0, cancellationToken);

    public static AgentMessage Hook(Guid claudeSessionId, string eventName, string eventId) => new()
    {
        HookEvent = new HookEvent
        {
            EventId = eventId,
            HookEventName = eventName,
            Session = new SessionEvidence { ClaudeSessionId = claudeSessionId.ToString("D"), Cwd = "/home/dev/project", ClaudePid = 4242 },
            RawJson = $$"""{"session_id":"{{claudeSessionId:D}}","hook_event_name":"{{eventName}}","cwd":"/home/dev/project"}""",
            Fields = eventName == "SessionStart" ? new HookFields { StartSource = SessionStartSource.Startup } : new HookFields { ToolName = "Bash" },
            Transport = HookTransport.Http,
            OccurredAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
        },
    };

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await Spool.Inner.DisposeAsync();
        _home.Dispose();
    }

    private DiskSpool OpenSpool() => new(
        Microsoft.Extensions.Options.Options.Create(new SpoolOptions { Directory = Path.Combine(_home.Path, "state", "spool") }),
        Time,
        NullLogger<DiskSpool>.Instance);
}
