using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Relay.Agent.Spool;
using Relay.Protocol.V1;

namespace Relay.Agent.Tests.Spool;

/// <summary>Opens spools in test directories and builds the messages the spool tests append.</summary>
internal static class SpoolTestSupport
{
    public static DiskSpool Open(string directory, long maxBytes = 64L * 1024 * 1024, long segmentBytes = 1024 * 1024, TimeProvider? time = null, ILogger<DiskSpool>? logger = null) =>
        new(Options.Create(new SpoolOptions { Directory = directory, MaxBytes = maxBytes, SegmentBytes = segmentBytes }), time ?? TimeProvider.System, logger ?? NullLogger<DiskSpool>.Instance);

    /// <summary>Where the whole records of a closed spool's segment end (the preallocated zeros follow).</summary>
    public static long RecordsEnd(string segmentPath)
    {
        RecordStarts(segmentPath, out var end);
        return end;
    }

    /// <summary>Where each whole record of a closed spool's segment starts, and where they end.</summary>
    public static List<long> RecordStarts(string segmentPath, out long end)
    {
        using var segment = SpoolSegment.Open(segmentPath, out _, out var problem) ?? throw new InvalidOperationException(problem);
        return segment.Scan(int.MaxValue, out end).Select(r => r.Offset).ToList();
    }

    /// <summary>True when every byte of the file from <paramref name="offset"/> on is zero.</summary>
    public static bool IsZeroFrom(string path, long offset) => File.ReadAllBytes(path).AsSpan((int)offset).IndexOfAnyExcept((byte)0) < 0;

    /// <summary>Overwrites <paramref name="count"/> bytes at <paramref name="offset"/> with zeros, as a write that never reached the disk.</summary>
    public static void ZeroBytes(string path, long offset, int count)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
        file.Position = offset;
        file.Write(new byte[count]);
    }

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
