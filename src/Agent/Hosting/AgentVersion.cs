namespace Relay.Agent.Hosting;

/// <summary>relay-agent's version, without the build metadata; kept apart from the command line so the hook client can
/// read it without loading the command-line parser.</summary>
/// <remarks>
/// A constant written at build time (Relay.Agent.csproj, <c>WriteAgentVersion</c>) from the informational version the
/// assembly carries: reading the attribute back by reflection cost the hook client's cold start about a millisecond.
/// </remarks>
internal static partial class AgentVersion
{
    public static string Current => InformationalVersion;
}
