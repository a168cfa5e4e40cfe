using System.Buffers.Binary;

namespace Relay.Agent.Hooks.Client;

/// <summary>The parts of HTTP/2 (RFC 9113) the hook client speaks: frame types, flags, settings and error codes.</summary>
internal static class Http2
{
    /// <summary>The client connection preface (§3.4), sent before the first SETTINGS.</summary>
    public static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    /// <summary>Length (3), type, flags, stream id (4).</summary>
    public const int FrameHeaderLength = 9;

    /// <summary>SETTINGS_MAX_FRAME_SIZE's initial value, and the largest frame this client accepts (it never raises it).</summary>
    public const int DefaultMaxFrameSize = 16384;

    /// <summary>SETTINGS_INITIAL_WINDOW_SIZE's initial value, and the initial connection window (§6.9.2).</summary>
    public const int DefaultWindowSize = 65535;

    /// <summary>The largest window or window increment (2^31 - 1).</summary>
    public const int MaxWindowSize = int.MaxValue;

    public const byte Data = 0x0;
    public const byte Headers = 0x1;
    public const byte Priority = 0x2;
    public const byte RstStream = 0x3;
    public const byte Settings = 0x4;
    public const byte PushPromise = 0x5;
    public const byte Ping = 0x6;
    public const byte GoAway = 0x7;
    public const byte WindowUpdate = 0x8;
    public const byte Continuation = 0x9;

    public const byte FlagEndStream = 0x1;
    public const byte FlagAck = 0x1;
    public const byte FlagEndHeaders = 0x4;
    public const byte FlagPadded = 0x8;
    public const byte FlagPriority = 0x20;

    public const ushort SettingsHeaderTableSize = 0x1;
    public const ushort SettingsEnablePush = 0x2;
    public const ushort SettingsInitialWindowSize = 0x4;
    public const ushort SettingsMaxFrameSize = 0x5;
    public const ushort SettingsMaxHeaderListSize = 0x6;

    public const int NoError = 0x0;
    public const int RefusedStream = 0x7;
    public const int Cancel = 0x8;
    public const int EnhanceYourCalm = 0xb;
    public const int InadequateSecurity = 0xc;

    /// <summary>Appends a frame header.</summary>
    public static void WriteFrameHeader(ByteBuffer output, int length, byte type, byte flags, int streamId)
    {
        Span<byte> header = stackalloc byte[FrameHeaderLength];
        header[0] = (byte)(length >> 16);
        header[1] = (byte)(length >> 8);
        header[2] = (byte)length;
        header[3] = type;
        header[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(header[5..], streamId & int.MaxValue);
        output.Append(header);
    }

    /// <summary>Appends a frame with a 32-bit payload (RST_STREAM, WINDOW_UPDATE).</summary>
    public static void WriteUInt32Frame(ByteBuffer output, byte type, int streamId, int value)
    {
        WriteFrameHeader(output, 4, type, 0, streamId);
        Span<byte> payload = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(payload, value);
        output.Append(payload);
    }

    /// <summary>The name of an error code, for messages.</summary>
    public static string ErrorName(int code) => code switch
    {
        0x0 => "NO_ERROR",
        0x1 => "PROTOCOL_ERROR",
        0x2 => "INTERNAL_ERROR",
        0x3 => "FLOW_CONTROL_ERROR",
        0x4 => "SETTINGS_TIMEOUT",
        0x5 => "STREAM_CLOSED",
        0x6 => "FRAME_SIZE_ERROR",
        0x7 => "REFUSED_STREAM",
        0x8 => "CANCEL",
        0x9 => "COMPRESSION_ERROR",
        0xa => "CONNECT_ERROR",
        0xb => "ENHANCE_YOUR_CALM",
        0xc => "INADEQUATE_SECURITY",
        0xd => "HTTP_1_1_REQUIRED",
        _ => "error 0x" + code.ToString("x", System.Globalization.CultureInfo.InvariantCulture),
    };
}
