using Google.Protobuf.WellKnownTypes;
using Pb = Relay.Protocol.V1;
using Db = Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Prompts;

/// <summary>Prompt and reply rows as relay.v1 messages. The prompt id clients see is the row's UUID.</summary>
internal static class PromptMapper
{
    public static Pb.Prompt ToProto(Db.Prompt prompt, string? sessionName, Guid machineId)
    {
        var finishedAt = prompt.ExpiredAt ?? prompt.FailedAt;
        return new Pb.Prompt
        {
            PromptId = prompt.Id.ToString("D"),
            SessionId = prompt.RelaySessionId.ToString("D"),
            SessionName = sessionName ?? "",
            MachineId = machineId.ToString("D"),
            Text = prompt.Text,
            Sender = new Pb.Principal
            {
                Kind = prompt.SenderKind == Db.SenderKind.Session ? Pb.PrincipalKind.Session : Pb.PrincipalKind.User,
                Id = prompt.SenderId,
                DisplayName = prompt.SenderName ?? prompt.SenderId,
            },
            Status = ToProto(prompt.Status),
            DeliveryPath = prompt.DeliveryPath switch
            {
                Db.DeliveryPath.Channel => Pb.DeliveryPath.Channel,
                Db.DeliveryPath.HookContext => Pb.DeliveryPath.HookContext,
                Db.DeliveryPath.HookStopBlock => Pb.DeliveryPath.HookStopBlock,
                _ => Pb.DeliveryPath.Unspecified,
            },
            IsSessionMessage = prompt.SenderKind == Db.SenderKind.Session,
            InReplyTo = prompt.InReplyTo?.ToString("D") ?? "",
            CreatedAt = Timestamp.FromDateTimeOffset(prompt.CreatedAt),
            SentAt = Ts(prompt.SentAt),
            DeliveredAt = Ts(prompt.DeliveredAt),
            SeenAt = Ts(prompt.SeenAt),
            RepliedAt = Ts(prompt.RepliedAt),
            ExpiresAt = Timestamp.FromDateTimeOffset(prompt.ExpiresAt),
            FinishedAt = Ts(finishedAt),
            FailureReason = prompt.FailureReason ?? "",
            DeliveredToClaudeSessionId = prompt.DeliveredToClaudeSessionId?.ToString("D") ?? "",
            DeliveryAttempts = (uint)Math.Max(0, prompt.DeliveryAttempts),
        };
    }

    public static Pb.Reply ToProto(Db.Reply reply, string? sessionName, Guid machineId) => new()
    {
        ReplyId = reply.Id.ToString("D"),
        SessionId = reply.RelaySessionId.ToString("D"),
        SessionName = sessionName ?? "",
        MachineId = machineId.ToString("D"),
        ClaudeSessionId = reply.ClaudeSessionId?.ToString("D") ?? "",
        InReplyTo = reply.PromptId?.ToString("D") ?? "",
        Text = reply.Text,
        Source = reply.Source switch
        {
            Db.ReplySource.ReplyTool => Pb.ReplySource.ReplyTool,
            Db.ReplySource.StopHook => Pb.ReplySource.StopHook,
            _ => Pb.ReplySource.Unspecified,
        },
        CreatedAt = Timestamp.FromDateTimeOffset(reply.CreatedAt),
        RecordedAt = Timestamp.FromDateTimeOffset(reply.CreatedAt),
    };

    public static Pb.PromptStatus ToProto(Db.PromptStatus status) => status switch
    {
        Db.PromptStatus.Queued => Pb.PromptStatus.Queued,
        Db.PromptStatus.Sent => Pb.PromptStatus.Sent,
        Db.PromptStatus.Delivered => Pb.PromptStatus.Delivered,
        Db.PromptStatus.Seen => Pb.PromptStatus.Seen,
        Db.PromptStatus.Replied => Pb.PromptStatus.Replied,
        Db.PromptStatus.Expired => Pb.PromptStatus.Expired,
        Db.PromptStatus.Failed => Pb.PromptStatus.Failed,
        _ => Pb.PromptStatus.Unspecified,
    };

    private static Timestamp? Ts(DateTimeOffset? value) => value is { } v ? Timestamp.FromDateTimeOffset(v) : null;
}
