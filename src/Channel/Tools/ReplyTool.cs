using Google.Protobuf.WellKnownTypes;
using ModelContextProtocol.Protocol;
using Relay.Channel.Agent;
using Relay.Channel.Hosting;
using Relay.Channel.Mcp;
using Relay.Protocol.V1;

namespace Relay.Channel.Tools;

/// <summary>
/// <c>reply</c>: hands Claude's answer to the agent and returns only once the agent has it in its spool. A reply the
/// agent has not confirmed in time is kept and re-sent after the next attach (same reply id), so Claude is told not to
/// send it again.
/// </summary>
internal sealed class ReplyTool(AgentAttach link, IOptions<RelayChannelOptions> options, TimeProvider time, ILogger<ReplyTool> logger)
    : RelayTool(Name, Description, Schema)
{
    public const string Name = "reply";

    private const string Description =
        "Send your answer to the person or session that wrote a Relay message (a <channel source=\"relay\"> event). "
        + "Pass the event's prompt_id so the answer is threaded to it. The sender sees only what you pass here. "
        + "Returns \"sent\" once Relay has the reply safely.";

    private const string Schema = """
        {
          "type": "object",
          "properties": {
            "text": { "type": "string", "description": "Your answer, as the sender should read it." },
            "prompt_id": { "type": "string", "description": "The prompt_id attribute of the channel event you answer." }
          },
          "required": ["text"]
        }
        """;

    private readonly RelayChannelOptions _options = options.Value;

    protected override async ValueTask<CallToolResult> InvokeAsync(ToolArguments arguments, CancellationToken cancellationToken)
    {
        var text = arguments.RequiredString("text");
        var promptId = arguments.OptionalString("prompt_id").Trim();
        if (link.Attachment is { MaxTextChars: > 0 } attachment && text.Length > attachment.MaxTextChars)
        {
            return Fail($"The reply is {text.Length} characters; Relay accepts at most {attachment.MaxTextChars}. Shorten it or send it as several replies.");
        }

        var reply = new ChannelReply
        {
            ReplyId = Guid.CreateVersion7().ToString(),
            InReplyTo = promptId,
            Text = text,
            CreatedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow()),
        };
        if (!link.Replies.TryAdd(reply, out var outcome))
        {
            return Fail($"{link.Replies.Count} earlier replies are still waiting for relay-agent; this one was not taken. Check that relay-agent is running (relay-agent status), then send it again.");
        }

        // From here on the reply is the channel's to deliver: it stays pending (and is re-sent after every attach)
        // until the agent confirms or refuses it, whatever happens to this call.
        using var deadline = new CancellationTokenSource(_options.ReplyTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            await link.EnqueueAsync(new ChannelMessage { Reply = reply }, linked.Token);
            var result = await outcome.WaitAsync(linked.Token);
            if (!result.Accepted)
            {
                return Fail($"Relay refused the reply: {result.Error}");
            }

            McpLog.ReplyAccepted(logger, reply.ReplyId, promptId, result.Duplicate);
            return Text("sent");
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            McpLog.ReplyKept(logger, reply.ReplyId, _options.ReplyTimeout);
            return Fail(
                $"Relay has not confirmed this reply yet: relay-agent did not answer within {_options.ReplyTimeout.TotalSeconds:0.#} s "
                + "(it may be restarting or not running). The reply is kept and will be delivered automatically when the agent is back; do not send it again.");
        }
    }

    private CallToolResult Fail(string message)
    {
        McpLog.ToolFailed(logger, Name, message);
        return Error(message);
    }
}
