using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Hosting;
using Relay.Channel.Agent;
using Relay.Channel.Mcp;
using Relay.Protocol.V1;

namespace Relay.Channel.Prompts;

/// <summary>
/// Pushes what the agent sends for Claude as <c>notifications/claude/channel</c> events, in order, once the MCP
/// handshake is done, and acknowledges each prompt after its event is written. Prompt ids are remembered for the
/// process's whole life: a prompt seen before (the agent re-sends unacknowledged prompts after a re-attach) is
/// acknowledged as a duplicate and not shown to Claude twice.
/// </summary>
internal sealed class PromptPusher(
    PromptInbox inbox,
    McpHandshake handshake,
    ClaudeNotifications notifications,
    AgentAttach link,
    TimeProvider time,
    ILogger<PromptPusher> logger) : BackgroundService
{
    private readonly Dictionary<string, Timestamp> _written = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Off the start path: the host starts hosted services one after another, and Claude Code's initialize must not
        // wait for this one.
        await Task.Yield();
        try
        {
            await handshake.Initialized.WaitAsync(stoppingToken);
            await foreach (var message in inbox.Reader.ReadAllAsync(stoppingToken))
            {
                switch (message.BodyCase)
                {
                    case AgentToChannelMessage.BodyOneofCase.Prompt:
                        await PushPromptAsync(message.Prompt, stoppingToken);
                        break;
                    case AgentToChannelMessage.BodyOneofCase.SessionMessageStatus:
                        await PushStatusAsync(message.SessionMessageStatus, stoppingToken);
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task PushPromptAsync(PromptDelivery prompt, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(prompt.PromptId))
        {
            PromptLog.PromptWithoutId(logger);
            return;
        }

        if (_written.TryGetValue(prompt.PromptId, out var firstWritten))
        {
            PromptLog.Duplicate(logger, prompt.PromptId);
            await AckAsync(prompt.PromptId, firstWritten, duplicate: true, cancellationToken);
            return;
        }

        var meta = ChannelEventMeta.Sanitize(ChannelEventMeta.ForPrompt(prompt), out var dropped);
        foreach (var key in dropped)
        {
            PromptLog.MetaKeyDropped(logger, key);
        }

        await notifications.SendChannelEventAsync(prompt.Text, meta, cancellationToken);
        var written = Timestamp.FromDateTimeOffset(time.GetUtcNow());
        _written[prompt.PromptId] = written;
        PromptLog.Pushed(logger, prompt.PromptId, meta["sender"], prompt.Text.Length);
        await AckAsync(prompt.PromptId, written, duplicate: false, cancellationToken);
    }

    private async Task PushStatusAsync(SessionMessageStatus status, CancellationToken cancellationToken)
    {
        var meta = ChannelEventMeta.Sanitize(ChannelEventMeta.ForMessageStatus(status), out _);
        await notifications.SendChannelEventAsync(MessageStatusText.Describe(status), meta, cancellationToken);
        PromptLog.StatusPushed(logger, status.MessageId, status.Status);
    }

    private ValueTask AckAsync(string promptId, Timestamp writtenAt, bool duplicate, CancellationToken cancellationToken) =>
        link.EnqueueAsync(
            new ChannelMessage { PromptAck = new PromptAck { PromptId = promptId, WrittenAt = writtenAt, Duplicate = duplicate } },
            cancellationToken);
}
