using Google.Protobuf.WellKnownTypes;
using ModelContextProtocol.Protocol;
using Relay.Protocol.V1;

namespace Relay.Channel.Tests.Infrastructure;

/// <summary>Builders for the messages tests push, and readers for tool results.</summary>
internal static class Messages
{
    public static readonly DateTimeOffset SentAt = new(2026, 11, 21, 10, 30, 0, TimeSpan.Zero);

    public static AgentToChannelMessage Prompt(string promptId, string text, string sender = "alice") => new()
    {
        Prompt = new PromptDelivery
        {
            PromptId = promptId,
            SessionId = "sess-1",
            Text = text,
            Sender = new Principal { Kind = PrincipalKind.User, Id = "tok-1", DisplayName = sender },
            SentAt = Timestamp.FromDateTimeOffset(SentAt),
        },
    };

    public static AgentToChannelMessage SessionMessage(string promptId, string text, string fromSession, string fromMachine, string inReplyTo = "") => new()
    {
        Prompt = new PromptDelivery
        {
            PromptId = promptId,
            SessionId = "sess-1",
            Text = text,
            Sender = new Principal { Kind = PrincipalKind.Session, Id = "sess-9", DisplayName = fromSession, MachineId = "m-9", MachineName = fromMachine },
            SentAt = Timestamp.FromDateTimeOffset(SentAt),
            IsSessionMessage = true,
            InReplyTo = inReplyTo,
        },
    };

    public static AgentToChannelMessage Verdict(string claudeRequestId, ApprovalDecision decision) => new()
    {
        PermissionVerdict = new PermissionVerdict { ApprovalId = "ap-1", ClaudeRequestId = claudeRequestId, Decision = decision },
    };

    public static string Text(this CallToolResult result) =>
        string.Join('\n', result.Content.OfType<TextContentBlock>().Select(b => b.Text));
}
