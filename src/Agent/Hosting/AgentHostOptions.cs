using System.ComponentModel.DataAnnotations;
using Relay.Protocol.Local;

namespace Relay.Agent.Hosting;

/// <summary>Where the daemon listens. Bound from the <c>Agent</c> configuration section (<c>RELAY_AGENT__*</c>).</summary>
internal sealed class AgentHostOptions
{
    public const string SectionName = "Agent";

    /// <summary>The Unix socket; default <see cref="LocalAgentPaths.Socket"/> (honours <c>RELAY_AGENT_SOCKET</c>).</summary>
    public string? SocketPath { get; set; }

    /// <summary>The loopback port of the http hook endpoint; default agent.json's <c>hook_port</c>. 0 picks a free port (tests).</summary>
    [Range(0, 65535, ErrorMessage = "Agent:HookPort must be a TCP port (1-65535), or 0 for any free port.")]
    public int? HookPort { get; set; }

    /// <summary>How long shutdown waits for calls in flight. Default 5 s.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00", ErrorMessage = "Agent:ShutdownTimeout must be between 1 second and 5 minutes, e.g. 00:00:05.")]
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public string EffectiveSocketPath => string.IsNullOrEmpty(SocketPath) ? LocalAgentPaths.Socket() : SocketPath;
}
