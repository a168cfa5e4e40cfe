namespace Relay.Broker.AgentLink;

/// <summary>
/// The AgentLink service: <c>Enroll</c> (AgentLinkService.Enroll.cs) and the agents' bidirectional
/// <c>Connect</c> stream (AgentLinkService.Connect.cs).
/// </summary>
internal sealed partial class AgentLinkService(IServiceProvider services) : Protocol.V1.AgentLink.AgentLinkBase
{
    private T Get<T>()
        where T : notnull => services.GetRequiredService<T>();
}
