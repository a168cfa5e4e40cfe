using System.Threading.Channels;
using Relay.Protocol.V1;

namespace Relay.Channel.Prompts;

/// <summary>
/// What the agent wants shown to Claude (prompts and send_message outcomes), between the stream's reader and the
/// <see cref="PromptPusher"/>. Bounded: when Claude Code has not finished its handshake yet and the inbox fills, the
/// stream reader waits, and the agent keeps the rest (it re-sends unacknowledged prompts anyway).
/// </summary>
internal sealed class PromptInbox
{
    private readonly Channel<AgentToChannelMessage> _items = System.Threading.Channels.Channel.CreateBounded<AgentToChannelMessage>(
        new BoundedChannelOptions(256) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    public ChannelReader<AgentToChannelMessage> Reader => _items.Reader;

    public ValueTask PostAsync(AgentToChannelMessage message, CancellationToken cancellationToken) =>
        _items.Writer.WriteAsync(message, cancellationToken);
}
