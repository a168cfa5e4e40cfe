using Relay.Broker.AgentLink;

namespace Relay.Broker.SessionTools;

internal static class SessionToolsFeature
{
    /// <summary>relay-channel's session tools over AgentLink (list_sessions, session_history, launch_session).</summary>
    public static IServiceCollection AddSessionTools(this IServiceCollection services)
    {
        services.AddSingleton<IAgentToolHandler, SessionToolHandler>();
        return services;
    }
}
