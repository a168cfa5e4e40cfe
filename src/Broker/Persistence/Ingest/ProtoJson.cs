using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;

namespace Relay.Broker.Persistence.Ingest;

/// <summary>
/// Protobuf JSON (what <see cref="JsonFormatter.Default"/> writes: lowerCamelCase names, default values left out, enums
/// by name, 64-bit integers as strings, Timestamps in RFC 3339) for the messages stored in the event log, written with
/// <see cref="Utf8JsonWriter"/>. <see cref="JsonFormatter"/> escapes strings a character at a time into a growing
/// StringBuilder: for a hook event (a kilobyte of escaped hook input) that was 5–6 µs and 7.5 KB of garbage per event,
/// the largest single cost of ingest in the broker. Messages this writer does not cover (repeated fields, maps,
/// oneofs, optional scalars, floating point, bytes, well-known types other than Timestamp) go to JsonFormatter as
/// before, decided once per message type from its descriptor, so a field added later is never silently dropped.
/// </summary>
internal static class ProtoJson
{
    private static readonly ConcurrentDictionary<MessageDescriptor, bool> Covered = new();

    // Only what JSON requires is escaped: the text goes to PostgreSQL, never into HTML, and jsonb stores it unescaped.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    /// <summary>The message as protobuf JSON.</summary>
    public static string Format(IMessage message)
    {
        if (!IsCovered(message.Descriptor))
        {
            return JsonFormatter.Default.Format(message);
        }

        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(4096);
        buffer.ResetWrittenCount();
        var writer = t_writer ??= new Utf8JsonWriter(buffer, WriterOptions);
        writer.Reset(buffer);
        try
        {
            WriteMessage(writer, message);
            writer.Flush();
            return Encoding.UTF8.GetString(buffer.WrittenSpan);
        }
        catch (InvalidTimestampException)
        {
            return JsonFormatter.Default.Format(message); // throws as it always did for a timestamp out of range
        }
        finally
        {
            if (buffer.Capacity > 256 * 1024)
            {
                t_buffer = null; // one huge payload does not pin its buffer to the thread for good
                t_writer = null;
            }
        }
    }

    /// <summary>True when this writer formats messages of <paramref name="descriptor"/> (else JsonFormatter does).</summary>
    internal static bool IsCovered(MessageDescriptor descriptor) => Covered.GetOrAdd(descriptor, static d => Covers(d, depth: 0));

    private static bool Covers(MessageDescriptor descriptor, int depth)
    {
        if (depth > 8 || descriptor.File.Package == "google.protobuf")
        {
            return false;
        }

        foreach (var field in descriptor.Fields.InDeclarationOrder())
        {
            if (field.IsRepeated || field.IsMap || field.ContainingOneof is not null || (field.HasPresence && field.FieldType != FieldType.Message))
            {
                return false;
            }

            var covered = field.FieldType switch
            {
                FieldType.String or FieldType.Bool or FieldType.Enum => true,
                FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 or FieldType.UInt32 or FieldType.Fixed32 => true,
                FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 or FieldType.UInt64 or FieldType.Fixed64 => true,
                FieldType.Message => field.MessageType.FullName == Timestamp.Descriptor.FullName || Covers(field.MessageType, depth + 1),
                _ => false,
            };
            if (!covered)
            {
                return false;
            }
        }

        return true;
    }

    private static void WriteMessage(Utf8JsonWriter writer, IMessage message)
    {
        writer.WriteStartObject();
        foreach (var field in message.Descriptor.Fields.InDeclarationOrder())
        {
            var value = field.Accessor.GetValue(message);
            switch (field.FieldType)
            {
                case FieldType.String when value is string { Length: > 0 } text:
                    writer.WriteString(field.JsonName, text);
                    break;
                case FieldType.Bool when value is true:
                    writer.WriteBoolean(field.JsonName, true);
                    break;
                case FieldType.Enum when Convert.ToInt32(value, CultureInfo.InvariantCulture) is var number and not 0:
                    if (field.EnumType.FindValueByNumber(number) is { } known)
                    {
                        writer.WriteString(field.JsonName, known.Name);
                    }
                    else
                    {
                        writer.WriteNumber(field.JsonName, number);
                    }

                    break;
                case FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 when value is int number && number != 0:
                    writer.WriteNumber(field.JsonName, number);
                    break;
                case FieldType.UInt32 or FieldType.Fixed32 when value is uint number && number != 0:
                    writer.WriteNumber(field.JsonName, number);
                    break;
                case FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 when value is long number && number != 0:
                    writer.WriteString(field.JsonName, number.ToString(CultureInfo.InvariantCulture));
                    break;
                case FieldType.UInt64 or FieldType.Fixed64 when value is ulong number && number != 0:
                    writer.WriteString(field.JsonName, number.ToString(CultureInfo.InvariantCulture));
                    break;
                case FieldType.Message when value is Timestamp timestamp:
                    writer.WriteString(field.JsonName, TimestampText(timestamp));
                    break;
                case FieldType.Message when value is IMessage nested:
                    writer.WritePropertyName(field.JsonName);
                    WriteMessage(writer, nested);
                    break;
            }
        }

        writer.WriteEndObject();
    }

    /// <summary>RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits, as protobuf JSON writes it.</summary>
    private static string TimestampText(Timestamp timestamp)
    {
        if (timestamp.Nanos is < 0 or > 999_999_999 || timestamp.Seconds is < -62_135_596_800 or > 253_402_300_799)
        {
            throw new InvalidTimestampException();
        }

        var whole = DateTime.UnixEpoch.AddSeconds(timestamp.Seconds).ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss", CultureInfo.InvariantCulture);
        var nanos = timestamp.Nanos;
        return nanos == 0 ? whole + "Z"
            : nanos % 1_000_000 == 0 ? whole + "." + (nanos / 1_000_000).ToString("D3", CultureInfo.InvariantCulture) + "Z"
            : nanos % 1_000 == 0 ? whole + "." + (nanos / 1_000).ToString("D6", CultureInfo.InvariantCulture) + "Z"
            : whole + "." + nanos.ToString("D9", CultureInfo.InvariantCulture) + "Z";
    }

    private sealed class InvalidTimestampException : Exception;
}
