using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Relay.Broker.Persistence.Ingest;
using Relay.Protocol.V1;

namespace Relay.Broker.Tests.Persistence;

/// <summary>The event log's fast protobuf JSON must say exactly what JsonFormatter says.</summary>
public sealed class ProtoJsonTests
{
    private const string Awkward = "quote \" backslash \\ slash / tab \t newline \n nul \0 bell \a <tag> & 'apos' ü 日本 🚀 \u2028 \u00ad end";

    public static TheoryData<string> CoveredMessageTypes()
    {
        var data = new TheoryData<string>();
        foreach (var descriptor in AllMessages().Where(ProtoJson.IsCovered))
        {
            data.Add(descriptor.FullName);
        }

        return data;
    }

    [Fact]
    public void IsCovered_HotAndOneofMessages_HookEventCoveredAgentMessageNot()
    {
        ProtoJson.IsCovered(HookEvent.Descriptor).Should().BeTrue("hook events are most of what ingest stores");
        ProtoJson.IsCovered(AgentMessage.Descriptor).Should().BeFalse("a oneof is left to JsonFormatter");
        ProtoJson.IsCovered(Timestamp.Descriptor).Should().BeFalse("well-known types at the top level are left to JsonFormatter");
    }

    [Theory]
    [MemberData(nameof(CoveredMessageTypes))]
    public void Format_EveryFieldSet_SameJsonAsJsonFormatterAndParsesBack(string fullName)
    {
        var descriptor = AllMessages().Single(d => d.FullName == fullName);
        var message = Populate(descriptor, depth: 0);

        var fast = ProtoJson.Format(message);

        JsonNode.DeepEquals(JsonNode.Parse(fast), JsonNode.Parse(JsonFormatter.Default.Format(message))).Should().BeTrue(fast);
        descriptor.Parser.ParseJson(fast).Should().Be(message);
    }

    [Theory]
    [InlineData(0, "2026-11-21T10:31:01Z")]
    [InlineData(5_000_000, "2026-11-21T10:31:01.005Z")]
    [InlineData(5_000, "2026-11-21T10:31:01.000005Z")]
    [InlineData(859_949_900, "2026-11-21T10:31:01.859949900Z")]
    public void Format_TimestampNanos_FractionDigitsAsProtobufJson(int nanos, string expected)
    {
        var hook = new HookEvent { OccurredAt = new Timestamp { Seconds = 1_795_257_061, Nanos = nanos } };

        var json = JsonNode.Parse(ProtoJson.Format(hook))!;

        json["occurredAt"]!.GetValue<string>().Should().Be(expected);
        json.ToJsonString().Should().Be(JsonNode.Parse(JsonFormatter.Default.Format(hook))!.ToJsonString());
    }

    [Fact]
    public void Format_DefaultsAndUnknownEnumNumber_LikeJsonFormatter()
    {
        var empty = new HookEvent();
        var unknown = new HookEvent { Transport = (HookTransport)42, Session = new SessionEvidence() };

        ProtoJson.Format(empty).Should().Be("{}");
        JsonNode.DeepEquals(JsonNode.Parse(ProtoJson.Format(unknown)), JsonNode.Parse(JsonFormatter.Default.Format(unknown))).Should().BeTrue();
        JsonNode.Parse(ProtoJson.Format(unknown))!["transport"]!.GetValue<int>().Should().Be(42);
    }

    [Fact]
    public void Format_TimestampOutOfRange_FailsAsJsonFormatterDoes()
    {
        var hook = new HookEvent { OccurredAt = new Timestamp { Seconds = long.MaxValue } };

        var expected = () => JsonFormatter.Default.Format(hook);
        var actual = () => ProtoJson.Format(hook);

        actual.Should().Throw<Exception>().Which.GetType().Should().Be(expected.Should().Throw<Exception>().Which.GetType());
    }

    [Fact]
    public void Format_MessageWithOneof_IsJsonFormatterOutput()
    {
        var message = new AgentMessage { Seq = 7, HookEvent = (HookEvent)Populate(HookEvent.Descriptor, 0) };

        ProtoJson.Format(message).Should().Be(JsonFormatter.Default.Format(message));
    }

    [Fact]
    public void Format_LargePayload_WholeAndReusableAfterwards()
    {
        var big = new HookEvent { RawJson = "{\"x\":\"" + new string('é', 300_000) + "\"}" };
        var small = new HookEvent { HookEventName = "Stop" };

        HookEvent.Parser.ParseJson(ProtoJson.Format(big)).Should().Be(big);
        ProtoJson.Format(small).Should().Be("{\"hookEventName\":\"Stop\"}");
    }

    private static IEnumerable<MessageDescriptor> AllMessages() =>
        new[] { AgentLinkReflection.Descriptor, TimelineReflection.Descriptor, CommonReflection.Descriptor, DeliveryReflection.Descriptor }
            .SelectMany(f => f.MessageTypes.Concat(f.MessageTypes.SelectMany(m => m.NestedTypes)))
            .DistinctBy(d => d.FullName);

    /// <summary>Every field of a covered message set to a value that is not its default.</summary>
    private static IMessage Populate(MessageDescriptor descriptor, int depth)
    {
        var message = descriptor.Parser.ParseFrom(ByteString.Empty);
        foreach (var field in descriptor.Fields.InDeclarationOrder())
        {
            object? value = field.FieldType switch
            {
                FieldType.String => Awkward + field.Name,
                FieldType.Bool => true,
                FieldType.Enum => field.EnumType.Values[^1].Number,
                FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => -123_456,
                FieldType.UInt32 or FieldType.Fixed32 => 4_000_000_000u,
                FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => -9_007_199_254_740_993L,
                FieldType.UInt64 or FieldType.Fixed64 => ulong.MaxValue,
                FieldType.Message when field.MessageType.FullName == Timestamp.Descriptor.FullName => new Timestamp { Seconds = 1_795_257_061, Nanos = 123_000_000 },
                FieldType.Message when depth < 4 => Populate(field.MessageType, depth + 1),
                _ => null,
            };
            if (value is not null)
            {
                field.Accessor.SetValue(message, value);
            }
        }

        return message;
    }
}
