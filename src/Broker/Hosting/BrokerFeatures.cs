using Relay.Broker.Access;
using Relay.Broker.AgentLink;
using Relay.Broker.SessionTools;

namespace Relay.Broker.Hosting;

/// <summary>
/// Registers the broker's features. Each feature folder owns one <c>AddXxx</c> extension and is listed here,
/// so this file reads as the broker's table of contents.
/// </summary>
internal static class BrokerFeatures
{
    public static IServiceCollection AddBrokerFeatures(this IServiceCollection services)
    {
        services.AddBrokerAccess(); // Access/: authentication, tokens, enrolment, machines, audit, policy, briefings, server info
        services.AddAgentLink(); // AgentLink/, Sessions/, Delivery/: the agents' stream, reconciliation, outbox delivery
        services.AddSessionSteering(); // Queries/, Watch/, Prompts/, Approvals/, Launches/: sessions, history, search, watch, prompts, approvals, launch/stop
        services.AddSessionTools(); // SessionTools/: the channel's list_sessions, session_history, launch_session over AgentLink
        return services;
    }
}
