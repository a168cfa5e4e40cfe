using Microsoft.Extensions.Options;
using Relay.Agent.Link;
using Relay.Agent.Sessions;
using Relay.Protocol.V1;

namespace Relay.Agent.Local;

/// <summary>Builds a channel's Attachment and sends <c>attachment_updated</c> when its session's binding or the link changes.</summary>
internal sealed class AttachmentNotifier(
    SessionTracker tracker,
    ChannelRegistry channels,
    MachineIdentity machine,
    IBrokerLink link,
    IOptions<LocalAgentOptions> options)
{
    public Attachment Build(string channelId, SessionView session) => new()
    {
        ChannelId = channelId,
        SessionId = session.RelaySessionId,
        Name = session.Name,
        ClaudeSessionId = session.ClaudeSessionId,
        LaunchId = session.LaunchId,
        MachineId = machine.Id,
        MachineName = machine.Name,
        BrokerConnected = link.IsConnected,
        MaxTextChars = (uint)options.Value.MaxTextChars,
    };

    /// <summary>Tells the channels of <paramref name="sessions"/> their new attachment.</summary>
    public void Notify(IEnumerable<SessionView> sessions)
    {
        foreach (var session in sessions)
        {
            if (channels.Get(session.ChannelId) is { } channel)
            {
                channel.TrySend(new AgentToChannelMessage { AttachmentUpdated = Build(channel.Id, session) });
            }
        }
    }

    /// <summary>Tells every channel (the broker link went up or down).</summary>
    public void NotifyAll()
    {
        foreach (var channel in channels.All())
        {
            if (tracker.Get(channel.SessionId) is { } session)
            {
                channel.TrySend(new AgentToChannelMessage { AttachmentUpdated = Build(channel.Id, session) });
            }
        }
    }
}
