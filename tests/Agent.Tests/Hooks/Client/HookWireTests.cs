using System.Globalization;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Relay.Agent.Hooks.Client;
using Relay.Protocol.V1;

namespace Relay.Agent.Tests.Hooks.Client;

/// <summary>The hook client's hand-written protobuf against Google.Protobuf and the generated messages.</summary>
public sealed class HookWireTests
{
    public static TheoryData<string, string, int, string, string, string, long> Requests => new()
    {
        { "6f14cd24-1a36-4b47-8818-199eb457a0a0", "{\"hook_event_name\":\"SessionStart\"}", 4242, "launch-1", "session-1", "/work/project", 638_000_000_000_000_000 },
        { string.Empty, string.Empty, 0, string.Empty, string.Empty, string.Empty, 621_355_968_000_000_000 }, // the Unix epoch: an empty Timestamp
        { "e", "{\"text\":\"grüße, 日本, 🙂\"}", int.MaxValue, "l", "s", "/home/ü", 621_355_968_010_000_000 }, // one second: no nanos
        { "e", new string('x', 300_000), 1, string.Empty, string.Empty, string.Empty, 621_355_968_000_000_001 }, // 100 ns: nanos only
        { "e", "{}", -1, string.Empty, string.Empty, string.Empty, 700_000_000_123_456_789 },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public void EncodeRequest_AnyFields_IsWhatGoogleProtobufWrites(
        string eventId, string rawJson, int claudePid, string launchId, string sessionId, string projectDir, long utcTicks)
    {
        var receivedAt = new DateTimeOffset(utcTicks, TimeSpan.Zero).ToOffset(TimeSpan.FromHours(2));
        var expected = new HookRequest
        {
            EventId = eventId,
            RawJson = rawJson,
            ClaudePid = claudePid,
            LaunchId = launchId,
            EnvClaudeSessionId = sessionId,
            ProjectDir = projectDir,
            ReceivedAt = Timestamp.FromDateTimeOffset(receivedAt),
            ClientVersion = "0.1.0",
        };

        var bytes = HookWire.EncodeRequest(eventId, rawJson, claudePid, launchId, sessionId, projectDir, receivedAt, "0.1.0");

        bytes.Should().Equal(expected.ToByteArray());
        HookRequest.Parser.ParseFrom(bytes).Should().Be(expected);
    }

    [Fact]
    public void EncodeRequest_EveryFieldOfHookRequest_IsWritten()
    {
        // A field added to HookRequest must be added to HookWire too (the client never sets `replayed`).
        HookRequest.Descriptor.Fields.InFieldNumberOrder().Select(f => f.Name).Should().Equal(
            "event_id", "raw_json", "claude_pid", "launch_id", "env_claude_session_id", "project_dir", "received_at", "client_version", "replayed");
        HookResponse.Descriptor.Fields.InFieldNumberOrder().Select(f => f.Name).Should().Equal("output_json");
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"hookSpecificOutput\":{\"hookEventName\":\"SessionStart\",\"additionalContext\":\"grüße 🙂\"}}")]
    public void TryDecodeResponse_GoogleProtobufsBytes_ReadsTheOutput(string outputJson)
    {
        var bytes = new HookResponse { OutputJson = outputJson }.ToByteArray();

        HookWire.TryDecodeResponse(bytes, out var decoded, out var error).Should().BeTrue(error);

        decoded.Should().Be(outputJson);
    }

    [Fact]
    public void TryDecodeResponse_UnknownFieldsAroundTheOutput_SkipsThem()
    {
        // A newer agent's fields of every wire type: varint 2, fixed64 3, length-delimited 4, fixed32 5.
        var stream = new MemoryStream();
        var output = new CodedOutputStream(stream);
        output.WriteTag(2, WireFormat.WireType.Varint);
        output.WriteInt64(long.MaxValue);
        output.WriteTag(3, WireFormat.WireType.Fixed64);
        output.WriteFixed64(7);
        output.WriteTag(1, WireFormat.WireType.LengthDelimited);
        output.WriteString("{\"a\":1}");
        output.WriteTag(4, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(new byte[200]));
        output.WriteTag(5, WireFormat.WireType.Fixed32);
        output.WriteFixed32(9);
        output.Flush();

        HookWire.TryDecodeResponse(stream.ToArray(), out var decoded, out var error).Should().BeTrue(error);

        decoded.Should().Be("{\"a\":1}");
        HookResponse.Parser.ParseFrom(stream.ToArray()).OutputJson.Should().Be(decoded);
    }

    [Theory]
    [InlineData(new byte[] { 0x0A, 0x05, (byte)'a' }, "ended inside field 1")]
    [InlineData(new byte[] { 0x0A }, "ended inside field 1")]
    [InlineData(new byte[] { 0x10, 0x80 }, "ended inside field 2")]
    [InlineData(new byte[] { 0x00 }, "invalid field tag")]
    [InlineData(new byte[] { 0x19, 1, 2, 3 }, "wire type")]
    [InlineData(new byte[] { 0x0B, 0x0C }, "wire type")]
    [InlineData(new byte[] { 0x0F }, "wire type")]
    public void TryDecodeResponse_Broken_SaysWhatIsWrong(byte[] message, string reason)
    {
        HookWire.TryDecodeResponse(message, out _, out var error).Should().BeFalse();

        error.Should().Contain(reason);
    }

    [Fact]
    public void FormatGuid_AnyGuid_IsGuidToString()
    {
        for (var i = 0; i < 1000; i++)
        {
            var guid = Guid.NewGuid();
            Relay.Agent.Hooks.HookCommand.FormatGuid(guid).Should().Be(guid.ToString());
        }

        Relay.Agent.Hooks.HookCommand.FormatGuid(Guid.Parse("00112233-4455-6677-8899-aabbccddeeff")).Should().Be("00112233-4455-6677-8899-aabbccddeeff");
    }

    [Fact]
    public void NewEventId_TwoIdsAMillisecondApart_AreTimeOrderedVersion7InTheirTextOrder()
    {
        // As the http hook endpoint's: the broker's unique index of (machine, event id) then grows at its end.
        var first = Relay.Agent.Hooks.HookCommand.NewEventId();
        var later = DateTimeOffset.UtcNow.AddMilliseconds(1);
        SpinWait.SpinUntil(() => DateTimeOffset.UtcNow >= later);
        var second = Relay.Agent.Hooks.HookCommand.NewEventId();

        Guid.Parse(first).Version.Should().Be(7);
        Guid.Parse(second).Version.Should().Be(7);
        string.CompareOrdinal(first, second).Should().BeNegative("PostgreSQL orders uuids by their bytes, which is this text's order");
    }

    [Theory]
    [InlineData("250")]
    [InlineData("0")]
    [InlineData("000000000000000001500")]
    [InlineData("2147483647")]
    [InlineData("2147483648")]
    [InlineData("99999999999999999999")]
    [InlineData("-5")]
    [InlineData("+5")]
    [InlineData(" 5")]
    [InlineData("5 ")]
    [InlineData("1_000")]
    [InlineData("١٢")]
    [InlineData("")]
    [InlineData(null)]
    public void ParseMilliseconds_AnyText_ReadsAsIntTryParseWithNoStyles(string? text)
    {
        int? expected = int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null;

        Relay.Agent.Hooks.HookCommand.ParseMilliseconds(text).Should().Be(expected);
    }

    [Fact]
    public void StatusName_EveryStatus_IsTheEnumsName()
    {
        foreach (var status in System.Enum.GetValues<Relay.Grpc.StatusCode>())
        {
            Relay.Agent.Hooks.HookCommand.StatusName(status).Should().Be(status.ToString());
        }

        Relay.Agent.Hooks.HookCommand.StatusName((Relay.Grpc.StatusCode)42).Should().Be("42");
    }
}
