using System.Text;

namespace Relay.Agent.Hooks.Client;

/// <summary>
/// The protobuf encoding of the two messages the hook client exchanges with the agent: <c>HookRequest</c> written and
/// <c>HookResponse</c> read, byte for byte as Google.Protobuf writes and reads them (protos/relay/v1/local_agent.proto;
/// HookWireTests compare the two). Hand-written for <c>relay-agent hook</c>: loading Google.Protobuf and the generated
/// message types and running their code for the first time cost the client's cold start 2–4 ms, for two messages.
/// </summary>
/// <remarks>
/// A field added to either message must be added here too (the tests fail until it is). Proto3 rules: fields in number
/// order, a field at its default value (empty, 0, unset) is not written; an unknown field in an answer is skipped.
/// </remarks>
internal static class HookWire
{
    private const int WireVarint = 0;
    private const int WireFixed64 = 1;
    private const int WireLengthDelimited = 2;
    private const int WireFixed32 = 5;

    /// <summary>A serialized <c>relay.v1.HookRequest</c> (<c>replayed</c> is never set by the client).</summary>
    public static byte[] EncodeRequest(
        string eventId,
        string rawJson,
        int claudePid,
        string launchId,
        string envClaudeSessionId,
        string projectDir,
        DateTimeOffset receivedAt,
        string clientVersion)
    {
        // google.protobuf.Timestamp: seconds and nanoseconds since the Unix epoch, as Timestamp.FromDateTimeOffset.
        var sinceEpoch = receivedAt.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        var seconds = sinceEpoch / TimeSpan.TicksPerSecond;
        var nanos = (int)(sinceEpoch % TimeSpan.TicksPerSecond) * 100;
        if (nanos < 0)
        {
            seconds--;
            nanos += 1_000_000_000;
        }

        var timestampLength = (seconds != 0 ? 1 + VarintLength((ulong)seconds) : 0) + (nanos != 0 ? 1 + VarintLength((ulong)(long)nanos) : 0);
        var length = StringFieldLength(eventId) + StringFieldLength(rawJson) + (claudePid != 0 ? 1 + VarintLength((ulong)(long)claudePid) : 0)
            + StringFieldLength(launchId) + StringFieldLength(envClaudeSessionId) + StringFieldLength(projectDir)
            + 1 + VarintLength((ulong)timestampLength) + timestampLength + StringFieldLength(clientVersion);

        var buffer = new byte[length];
        var at = 0;
        WriteString(buffer, ref at, 1, eventId);
        WriteString(buffer, ref at, 2, rawJson);
        if (claudePid != 0)
        {
            buffer[at++] = Tag(3, WireVarint);
            WriteVarint(buffer, ref at, (ulong)(long)claudePid);
        }

        WriteString(buffer, ref at, 4, launchId);
        WriteString(buffer, ref at, 5, envClaudeSessionId);
        WriteString(buffer, ref at, 6, projectDir);
        buffer[at++] = Tag(7, WireLengthDelimited);
        WriteVarint(buffer, ref at, (ulong)timestampLength);
        if (seconds != 0)
        {
            buffer[at++] = Tag(1, WireVarint);
            WriteVarint(buffer, ref at, (ulong)seconds);
        }

        if (nanos != 0)
        {
            buffer[at++] = Tag(2, WireVarint);
            WriteVarint(buffer, ref at, (ulong)(long)nanos);
        }

        WriteString(buffer, ref at, 8, clientVersion);
        return buffer;
    }

    /// <summary>
    /// Reads a serialized <c>relay.v1.HookResponse</c>: its <c>output_json</c> (empty when absent), or false and what is
    /// wrong with it in <paramref name="error"/>.
    /// </summary>
    public static bool TryDecodeResponse(ReadOnlySpan<byte> message, out string outputJson, out string error)
    {
        outputJson = string.Empty;
        error = string.Empty;
        var at = 0;
        while (at < message.Length)
        {
            if (!TryReadVarint(message, ref at, out var tag) || tag >> 3 == 0 || tag > uint.MaxValue)
            {
                error = "the message has an invalid field tag";
                return false;
            }

            var field = tag >> 3;
            switch ((int)(tag & 7))
            {
                case WireVarint:
                    if (!TryReadVarint(message, ref at, out _))
                    {
                        error = "the message ended inside field " + field;
                        return false;
                    }

                    break;
                case WireFixed64 when message.Length - at >= 8:
                    at += 8;
                    break;
                case WireFixed32 when message.Length - at >= 4:
                    at += 4;
                    break;
                case WireLengthDelimited:
                    if (!TryReadVarint(message, ref at, out var length) || length > (ulong)(message.Length - at))
                    {
                        error = "the message ended inside field " + field;
                        return false;
                    }

                    if (field == 1)
                    {
                        outputJson = Encoding.UTF8.GetString(message.Slice(at, (int)length));
                    }

                    at += (int)length;
                    break;
                default:
                    error = "field " + field + " has a wire type this client does not read (" + (tag & 7) + ") or is cut short";
                    return false;
            }
        }

        return true;
    }

    private static byte Tag(int field, int wireType) => (byte)((field << 3) | wireType);

    private static int StringFieldLength(string value)
    {
        if (value.Length == 0)
        {
            return 0;
        }

        var bytes = Encoding.UTF8.GetByteCount(value);
        return 1 + VarintLength((ulong)bytes) + bytes;
    }

    private static void WriteString(byte[] buffer, ref int at, int field, string value)
    {
        if (value.Length == 0)
        {
            return;
        }

        buffer[at++] = Tag(field, WireLengthDelimited);
        WriteVarint(buffer, ref at, (ulong)Encoding.UTF8.GetByteCount(value));
        at += Encoding.UTF8.GetBytes(value, buffer.AsSpan(at));
    }

    private static int VarintLength(ulong value)
    {
        var length = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            length++;
        }

        return length;
    }

    private static void WriteVarint(byte[] buffer, ref int at, ulong value)
    {
        while (value >= 0x80)
        {
            buffer[at++] = (byte)(value | 0x80);
            value >>= 7;
        }

        buffer[at++] = (byte)value;
    }

    private static bool TryReadVarint(ReadOnlySpan<byte> data, ref int at, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 64 && at < data.Length; shift += 7)
        {
            var b = data[at++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }

        return false;
    }
}
