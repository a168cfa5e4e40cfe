using Relay.Broker.Approvals;
using Relay.Broker.Launches;
using Relay.Broker.Prompts;
using Relay.Broker.Queries;
using Relay.Broker.Watch;

// In the root namespace so that Hosting/BrokerFeatures lists it in one line, like the other features.
namespace Relay.Broker;

internal static class SessionSteeringFeature
{
    /// <summary>Seeing and steering sessions: Queries/, Watch/, Prompts/, Approvals/, Launches/.</summary>
    public static IServiceCollection AddSessionSteering(this IServiceCollection services) =>
        services.AddSessionQueries().AddWatch().AddPrompts().AddApprovals().AddLaunches();
}
