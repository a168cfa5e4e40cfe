using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Relay.Agent.Spool;
using Relay.Protocol.V1;

namespace Relay.Agent.Tests.Spool;

/// <summary>Opens spools in test directories and builds the messages the spool tests append.</summary>
internal static class SpoolTestSupport
{
    public static DiskSpool Open(string directory, long maxBytes = 64L * 1024 * 1024, long segmentBytes = 1024 * 1024, TimeProvider? time = null) =>
        new(Options.Create(new SpoolOptions { Directory = directory, MaxBytes = maxBytes, SegmentBytes = segmentBytes }), time ?? TimeProvider.System, NullLogger<DiskSpool>.Instance);

    public static AgentMessage Hook(string eventId, int padding = 0) => new()
    {
        HookEvent = new HookEvent
        {
            EventId = eventId,
            HookEventName = "PreToolUse",
            Session = new SessionEvidence { ClaudeSessionId = "0b8f7a3e-4c1d-4e0f-9a55-3c2a1d0e9f11", Cwd = "/home/dev/project" },
            RawJson = "{\"pad\":\"" + new string('x', padding) + "\"}",
            Transport = HookTransport.Http,
            OccurredAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
        },
    };

    public static AgentMessage Reply(string replyId, int padding = 0) => new()
    {
        Reply = new SessionReply
        {
            ReplyId = replyId,
            Text = "done " + new string('y', padding),
            Session = new SessionEvidence { ClaudeSessionId = "0b8f7a3e-4c1d-4e0f-9a55-3c2a1d0e9f11" },
            Source = ReplySource.ReplyTool,
        },
    };

    /// <summary>The id a test gave a spooled message (event id, reply id), or the body kind.</summary>
    public static string Id(AgentMessage message) => message.BodyCase switch
    {
        AgentMessage.BodyOneofCase.HookEvent => message.HookEvent.EventId,
        AgentMessage.BodyOneofCase.Reply => message.Reply.ReplyId,
        _ => message.BodyCase.ToString(),
    };

    public static List<AgentMessage> ReadAll(IAgentSpool spool) => [.. spool.ReadAfter(0, int.MaxValue)];

    public static string[] SegmentFiles(string directory) =>
        System.IO.Directory.GetFiles(directory, "*.seg").Order(StringComparer.Ordinal).ToArray();
}
