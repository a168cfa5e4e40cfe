using System.Reflection;

namespace Relay.Broker.ServerInfo;

/// <summary>This broker process: its version, a replica id (also usable as an AgentLink lease holder), and when it started.</summary>
internal sealed class BrokerReplica(TimeProvider time)
{
    /// <summary>relay-broker's informational version (without the source revision suffix).</summary>
    public string Version { get; } = CurrentVersion;

    /// <summary>The same, for code that runs before the services exist.</summary>
    public static string CurrentVersion { get; } =
        (typeof(BrokerReplica).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0").Split('+')[0];

    /// <summary>Unique per process: host name, process id and a random suffix (a restarted process is a new replica).</summary>
    public string Id { get; } = $"{Environment.MachineName}-{Environment.ProcessId}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3))}";

    /// <summary>When the broker's services were created.</summary>
    public DateTimeOffset StartedAt { get; } = time.GetUtcNow();
}
