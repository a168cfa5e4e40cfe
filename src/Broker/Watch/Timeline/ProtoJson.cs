using Google.Protobuf;

namespace Relay.Broker.Watch.Timeline;

/// <summary>
/// Event payloads are stored as the protobuf JSON of the relay.v1 message they describe (jsonb), so history and watch
/// can hand them back without a second schema. Unknown fields are ignored when reading, so old rows survive new
/// contract versions.
/// </summary>
internal static class ProtoJson
{
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default);
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    public static string Format(IMessage message) => Formatter.Format(message);

    /// <summary>The message in <paramref name="json"/>, or null when the payload is not that message.</summary>
    public static T? TryParse<T>(string json)
        where T : class, IMessage, new()
    {
        try
        {
            return Parser.Parse<T>(json);
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidJsonException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }
}
