using Relay.Broker.Tests.Infrastructure;

namespace Relay.Channel.Tests.Infrastructure;

/// <summary>
/// A test with a fresh <see cref="AgentDouble"/> on a Unix socket in its own temp directory and a real relay-channel
/// process attached to it, driven by the MCP C# SDK client.
/// </summary>
public abstract class ChannelTestBase : IAsyncLifetime
{
    private readonly TempDirectory _directory = new("relay-channel-");
    private readonly CancellationTokenSource _timeout = TestTimeout.Start();

    internal AgentDouble Agent { get; private set; } = null!;

    internal ChannelUnderTest Channel { get; private set; } = null!;

    internal string SocketPath => Path.Combine(_directory.Path, "agent.sock");

    internal string ClaudeSessionId { get; } = Guid.NewGuid().ToString();

    /// <summary>Cancels after <see cref="TestTimeout.Default"/>.</summary>
    protected CancellationToken Timeout => _timeout.Token;

    /// <summary>Extra environment for the channel process (Channel__* settings).</summary>
    protected virtual IReadOnlyDictionary<string, string?>? ChannelEnvironment => null;

    public virtual async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory.Path);
        Agent = await AgentDouble.StartAsync(SocketPath);
        Channel = await ChannelUnderTest.StartAsync(SocketPath, ClaudeSessionId, Timeout, ChannelEnvironment);
    }

    public virtual async Task DisposeAsync()
    {
        if (Channel is not null)
        {
            await Channel.DisposeAsync();
        }

        if (Agent is not null)
        {
            await Agent.DisposeAsync();
        }

        _timeout.Dispose();
        _directory.Dispose();
    }

    /// <summary>Restarts the agent double on the same socket (as relay-agent restarting).</summary>
    internal async Task<AgentDouble> RestartAgentAsync(Action<AgentDouble>? configure = null)
    {
        await Agent.StopAsync();
        var next = await AgentDouble.StartAsync(SocketPath);
        configure?.Invoke(next);
        Agent = next;
        return next;
    }
}
