using System.Reflection;

namespace Relay.Agent.Hosting;

/// <summary>relay-agent's version, without the build metadata; kept apart from the command line so the hook client can
/// read it without loading the command-line parser.</summary>
internal static class AgentVersion
{
    public static string Current { get; } =
        (typeof(AgentVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0").Split('+')[0];
}
