using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Relay.Grpc;

namespace Relay.Agent.Hooks.Client;

/// <summary>
/// One unary gRPC call on a Unix socket: HTTP/2 with prior knowledge, one stream, synchronous, every wait bounded by a
/// <see cref="CallBudget"/>. It exists for <c>relay-agent hook</c>, a process that lives for one call: Relay.Grpc's
/// client sits on SocketsHttpHandler, whose HTTP/2 stack costs a cold process 100–200 ms of loading and JIT before the
/// first byte is written (docs/agent.md, "Hook client start time"). This speaks the same wire protocol in a few frames.
/// </summary>
/// <remarks>
/// What it does (RFC 9113, gRPC PROTOCOL-HTTP2): sends the preface, its SETTINGS (no push; stream and connection windows
/// large enough for any answer it accepts, so it never has to send WINDOW_UPDATE), HEADERS with HPACK literals, and the
/// length-prefixed request in DATA frames within the server's flow-control windows and frame size. It answers SETTINGS
/// and PING, honours WINDOW_UPDATE, GOAWAY and RST_STREAM, decodes the response headers, one message and the trailers
/// (or a Trailers-Only answer) with a full HPACK decoder, and resolves the status the way Relay.Grpc's client does.
/// Anything else a server does wrong ends the call with INTERNAL and a message that says what it was; it never waits
/// past the budget.
/// </remarks>
internal sealed class GrpcUnaryCall : IDisposable
{
    /// <summary>The largest response message accepted (gRPC's default receive limit).</summary>
    public const int MaxResponseMessageSize = 4 * 1024 * 1024;

    /// <summary>The largest header list (response headers or trailers) accepted, as SETTINGS_MAX_HEADER_LIST_SIZE.</summary>
    public const int MaxHeaderListSize = 16 * 1024;

    private const int StreamId = 1;
    private const int MessagePrefixLength = 5;

    // Opened once at the start, on the stream and on the connection: larger than the largest answer accepted, padding
    // included, so the server never waits for a WINDOW_UPDATE this client would have to send.
    private const int ReceiveWindow = 16 * 1024 * 1024;

    // A bound on HEADERS + CONTINUATION bytes before decoding (a CONTINUATION flood must not grow memory without end).
    private const int MaxHeaderBlockSize = 4 * MaxHeaderListSize;

    private UnixSocket? _socket;
    private readonly CallBudget _budget;
    private readonly HpackDecoder _hpack = new(MaxHeaderListSize);
    private readonly ByteBuffer _output = new(1024);
    private readonly byte[] _input = new byte[4 * (Http2.FrameHeaderLength + Http2.DefaultMaxFrameSize)];
    private int _inputStart;
    private int _inputEnd;

    private byte[] _request = [];
    private int _requestSent;
    private int _peerMaxFrameSize = Http2.DefaultMaxFrameSize;
    private long _peerInitialWindow = Http2.DefaultWindowSize;
    private long _connectionSendWindow = Http2.DefaultWindowSize;
    private long _streamSendWindow = Http2.DefaultWindowSize;
    private long _dataReceived;

    private Phase _phase = Phase.AwaitingHeaders;
    private ByteBuffer? _headerBlock;
    private bool _headerBlockEndsStream;
    private int _httpStatus;
    private HeaderFields _headers = new();
    private HeaderFields _trailers = new();
    private readonly ByteBuffer _body = new();
    private int _messageLength = -1;
    private string? _goAway;
    private string? _sendFailure;

    private GrpcUnaryCall(CallBudget budget) => _budget = budget;

    private enum Phase
    {
        AwaitingHeaders,
        Body,
        Done,
    }

    /// <summary>
    /// Calls <paramref name="path"/> (<c>/package.Service/Method</c>) with the serialized <paramref name="message"/> on
    /// the Unix socket <paramref name="socketPath"/>. Never throws for what the server or the socket do: every failure is
    /// a status — DEADLINE_EXCEEDED when the budget ran out, UNAVAILABLE when there is no connection or it broke,
    /// INTERNAL when the server broke the protocol, or the server's own status.
    /// </summary>
    public static UnaryReply Invoke(string socketPath, string path, ReadOnlySpan<byte> message, CallBudget budget)
    {
        if (budget.Expired)
        {
            return DeadlineExceeded(budget);
        }

        GrpcUnaryCall? call = null;
        try
        {
            call = new GrpcUnaryCall(budget);
            return call.Connect(socketPath) ?? call.Run(path, message);
        }
        catch (CallFailedException ex) when (ex.Status == StatusCode.DeadlineExceeded || (ex.Status == StatusCode.Cancelled && budget.Expired))
        {
            // A server that cancels the stream because its copy of the deadline passed: the deadline is what happened.
            return DeadlineExceeded(budget);
        }
        catch (CallFailedException ex)
        {
            return UnaryReply.Failed(ex.Status, ex.Message);
        }
        catch (HpackException ex)
        {
            return UnaryReply.Failed(StatusCode.Internal, "the server sent a malformed header block (HTTP/2 COMPRESSION_ERROR): " + ex.Message);
        }
        catch (UnixSocketException ex) when (budget.Expired || ex.IsTimeout)
        {
            return DeadlineExceeded(budget);
        }
        catch (UnixSocketException ex)
        {
            return UnaryReply.Failed(StatusCode.Unavailable, "the connection failed: " + ex.Message);
        }
        finally
        {
            call?.Dispose();
        }
    }

    public void Dispose() => _socket?.Dispose();

    private static UnaryReply DeadlineExceeded(CallBudget budget) =>
        UnaryReply.Failed(StatusCode.DeadlineExceeded, "no answer within " + budget.Total.TotalMilliseconds.ToString(CultureInfo.InvariantCulture) + " ms");

    // Null once connected. No agent is the hook's ordinary fail-open case: it is answered without an exception.
    private UnaryReply? Connect(string socketPath)
    {
        _socket = UnixSocket.TryConnect(socketPath, _budget.Remaining, out var failure);
        if (failure is null)
        {
            return null;
        }

        if (_budget.Expired || failure.IsTimeout)
        {
            return DeadlineExceeded(_budget);
        }

        return UnaryReply.Failed(
            StatusCode.Unavailable,
            failure.Errno == UnixSocketException.ENOENT ? "there is no socket (is the agent running?)" : "cannot connect: " + failure.Message);
    }

    private UnaryReply Run(string path, ReadOnlySpan<byte> message)
    {
        _request = new byte[MessagePrefixLength + message.Length];
        BinaryPrimitives.WriteInt32BigEndian(_request.AsSpan(1), message.Length);
        message.CopyTo(_request.AsSpan(MessagePrefixLength));

        _output.Append(Http2.Preface);
        WriteSettings();
        Http2.WriteUInt32Frame(_output, Http2.WindowUpdate, 0, ReceiveWindow - Http2.DefaultWindowSize);
        WriteRequestHeaders(path);
        SendData();
        Flush();

        while (_phase != Phase.Done)
        {
            var payload = ReadFrame(out var type, out var flags, out var stream);
            Handle(type, flags, stream, payload);
            if (_phase != Phase.Done)
            {
                Flush();
            }
        }

        Finish();
        return Resolve();
    }

    private void WriteSettings()
    {
        Span<byte> settings = stackalloc byte[18];
        WriteSetting(settings, Http2.SettingsEnablePush, 0);
        WriteSetting(settings[6..], Http2.SettingsInitialWindowSize, ReceiveWindow);
        WriteSetting(settings[12..], Http2.SettingsMaxHeaderListSize, MaxHeaderListSize);
        Http2.WriteFrameHeader(_output, settings.Length, Http2.Settings, 0, 0);
        _output.Append(settings);

        static void WriteSetting(Span<byte> destination, ushort id, int value)
        {
            BinaryPrimitives.WriteUInt16BigEndian(destination, id);
            BinaryPrimitives.WriteInt32BigEndian(destination[2..], value);
        }
    }

    private void WriteRequestHeaders(string path)
    {
        // Static table indices (RFC 7541 Appendix A): 3 :method POST, 6 :scheme http, 4 :path, 1 :authority,
        // 31 content-type, 58 user-agent. grpc-timeout right after the pseudo-headers, as the gRPC spec asks.
        var block = new ByteBuffer(256);
        HpackEncoder.WriteIndexed(block, 3);
        HpackEncoder.WriteIndexed(block, 6);
        HpackEncoder.WriteLiteral(block, 4, path);
        HpackEncoder.WriteLiteral(block, 1, "localhost");
        HpackEncoder.WriteLiteral(block, "grpc-timeout", Math.Min(_budget.RemainingMilliseconds(), 99_999_999).ToString(CultureInfo.InvariantCulture) + "m");
        HpackEncoder.WriteLiteral(block, 31, "application/grpc");
        HpackEncoder.WriteLiteral(block, "te", "trailers");
        HpackEncoder.WriteLiteral(block, "grpc-accept-encoding", "identity");
        HpackEncoder.WriteLiteral(block, 58, "grpc-dotnet-relay-hook/1.0");

        // The block fits the smallest frame a server may allow; the path is the only variable part and it is ours.
        if (block.Count > Http2.DefaultMaxFrameSize)
        {
            throw new ArgumentException("The request headers do not fit one HTTP/2 frame.", nameof(path));
        }

        Http2.WriteFrameHeader(_output, block.Count, Http2.Headers, Http2.FlagEndHeaders, StreamId);
        _output.Append(block.Span);
    }

    /// <summary>Queues as much of the request as the server's windows and frame size allow; the last frame ends the stream.</summary>
    private void SendData()
    {
        while (_phase != Phase.Done && _requestSent < _request.Length)
        {
            var chunk = (int)Math.Min(Math.Min(_request.Length - _requestSent, _peerMaxFrameSize), Math.Min(_connectionSendWindow, _streamSendWindow));
            if (chunk <= 0)
            {
                return;
            }

            var last = _requestSent + chunk == _request.Length;
            Http2.WriteFrameHeader(_output, chunk, Http2.Data, last ? Http2.FlagEndStream : (byte)0, StreamId);
            _output.Append(_request.AsSpan(_requestSent, chunk));
            _requestSent += chunk;
            _connectionSendWindow -= chunk;
            _streamSendWindow -= chunk;
        }
    }

    private void Handle(byte type, byte flags, int stream, ReadOnlySpan<byte> payload)
    {
        if (_headerBlock is not null && type != Http2.Continuation)
        {
            throw ProtocolError("a header block was interrupted by another frame");
        }

        switch (type)
        {
            case Http2.Data:
                RequireStream(stream, "DATA");
                _dataReceived += payload.Length;
                if (_dataReceived > ReceiveWindow)
                {
                    throw ProtocolError("the server sent more data than the flow-control window allows", "FLOW_CONTROL_ERROR");
                }

                if (_phase != Phase.Body)
                {
                    throw ProtocolError("the server sent DATA before the response headers");
                }

                AppendBody(Unpad(payload, flags));
                if ((flags & Http2.FlagEndStream) != 0)
                {
                    _phase = Phase.Done;
                }

                break;
            case Http2.Headers:
                RequireStream(stream, "HEADERS");
                var block = Unpad(payload, flags);
                if ((flags & Http2.FlagPriority) != 0)
                {
                    block = block.Length >= 5 ? block[5..] : throw ProtocolError("a HEADERS frame is too short for its priority fields", "FRAME_SIZE_ERROR");
                }

                _headerBlock = new ByteBuffer(block.Length);
                _headerBlock.Append(block);
                _headerBlockEndsStream = (flags & Http2.FlagEndStream) != 0;
                EndHeaderBlockIf(_headerBlock, flags);
                break;
            case Http2.Continuation:
                if (_headerBlock is null || stream != StreamId)
                {
                    throw ProtocolError("the server sent CONTINUATION without a header block to continue");
                }

                _headerBlock.Append(payload);
                if (_headerBlock.Count > MaxHeaderBlockSize)
                {
                    throw ProtocolError("a header block is larger than " + MaxHeaderBlockSize + " bytes");
                }

                EndHeaderBlockIf(_headerBlock, flags);
                break;
            case Http2.RstStream:
                RequireLength(payload, 4, "RST_STREAM");
                if (stream == StreamId)
                {
                    throw Reset(BinaryPrimitives.ReadInt32BigEndian(payload));
                }

                break;
            case Http2.Settings:
                HandleSettings(flags, stream, payload);
                break;
            case Http2.PushPromise:
                throw ProtocolError("the server sent PUSH_PROMISE although push is disabled");
            case Http2.Ping:
                RequireConnection(stream, "PING");
                RequireLength(payload, 8, "PING");
                if ((flags & Http2.FlagAck) == 0)
                {
                    Http2.WriteFrameHeader(_output, 8, Http2.Ping, Http2.FlagAck, 0);
                    _output.Append(payload);
                }

                break;
            case Http2.GoAway:
                HandleGoAway(stream, payload);
                break;
            case Http2.WindowUpdate:
                HandleWindowUpdate(stream, payload);
                break;
            default:
                // PRIORITY, and frame types this client does not know, are ignored (RFC 9113 §5.5).
                break;
        }
    }

    private void HandleSettings(byte flags, int stream, ReadOnlySpan<byte> payload)
    {
        RequireConnection(stream, "SETTINGS");
        if ((flags & Http2.FlagAck) != 0)
        {
            RequireLength(payload, 0, "SETTINGS acknowledgement");
            return;
        }

        if (payload.Length % 6 != 0)
        {
            throw ProtocolError("a SETTINGS frame of " + payload.Length + " bytes is not a whole number of settings", "FRAME_SIZE_ERROR");
        }

        for (var i = 0; i < payload.Length; i += 6)
        {
            var id = BinaryPrimitives.ReadUInt16BigEndian(payload[i..]);
            var value = BinaryPrimitives.ReadUInt32BigEndian(payload[(i + 2)..]);
            switch (id)
            {
                case Http2.SettingsEnablePush when value > 1:
                    throw ProtocolError("SETTINGS_ENABLE_PUSH is " + value);
                case Http2.SettingsInitialWindowSize when value > Http2.MaxWindowSize:
                    throw ProtocolError("SETTINGS_INITIAL_WINDOW_SIZE is " + value, "FLOW_CONTROL_ERROR");
                case Http2.SettingsInitialWindowSize:
                    // Applies to the open stream at once, as a delta: the window may even go negative (§6.9.2).
                    _streamSendWindow += value - _peerInitialWindow;
                    _peerInitialWindow = value;
                    break;
                case Http2.SettingsMaxFrameSize when value is < Http2.DefaultMaxFrameSize or > 16_777_215:
                    throw ProtocolError("SETTINGS_MAX_FRAME_SIZE is " + value);
                case Http2.SettingsMaxFrameSize:
                    _peerMaxFrameSize = (int)value;
                    break;
                default:
                    // HEADER_TABLE_SIZE does not matter to an encoder that never indexes; unknown settings are ignored.
                    break;
            }
        }

        Http2.WriteFrameHeader(_output, 0, Http2.Settings, Http2.FlagAck, 0);
        SendData();
    }

    private void HandleGoAway(int stream, ReadOnlySpan<byte> payload)
    {
        RequireConnection(stream, "GOAWAY");
        if (payload.Length < 8)
        {
            throw ProtocolError("a GOAWAY frame is shorter than 8 bytes", "FRAME_SIZE_ERROR");
        }

        var lastStream = BinaryPrimitives.ReadInt32BigEndian(payload) & int.MaxValue;
        var code = BinaryPrimitives.ReadInt32BigEndian(payload[4..]);
        // The debug data is the server's free text: shown, shortened and without control characters, in the hook's message.
        var debug = payload.Length > 8
            ? ": " + string.Concat(Encoding.ASCII.GetString(payload[8..Math.Min(payload.Length, 200)]).Select(c => char.IsControl(c) ? ' ' : c))
            : string.Empty;
        _goAway = "GOAWAY " + Http2.ErrorName(code) + debug;

        // Below our stream: the server will not process the call. Otherwise it finishes the call, then closes.
        if (lastStream < StreamId)
        {
            throw new CallFailedException(StatusCode.Unavailable, "the server refused the call (" + _goAway + ")");
        }
    }

    private void HandleWindowUpdate(int stream, ReadOnlySpan<byte> payload)
    {
        RequireLength(payload, 4, "WINDOW_UPDATE");
        var increment = BinaryPrimitives.ReadInt32BigEndian(payload) & int.MaxValue;
        if (increment == 0)
        {
            throw ProtocolError("a WINDOW_UPDATE increments by 0");
        }

        if (stream == 0)
        {
            _connectionSendWindow += increment;
        }
        else if (stream == StreamId)
        {
            _streamSendWindow += increment;
        }

        if (_connectionSendWindow > Http2.MaxWindowSize || _streamSendWindow > Http2.MaxWindowSize)
        {
            throw ProtocolError("a WINDOW_UPDATE grows a window past 2^31-1", "FLOW_CONTROL_ERROR");
        }

        SendData();
    }

    private void EndHeaderBlockIf(ByteBuffer headerBlock, byte flags)
    {
        if ((flags & Http2.FlagEndHeaders) == 0)
        {
            return;
        }

        var fields = _hpack.Decode(headerBlock.Span);
        _headerBlock = null;
        if (_phase == Phase.AwaitingHeaders)
        {
            var status = fields.Find(":status");
            if (status is null || !int.TryParse(status, NumberStyles.None, CultureInfo.InvariantCulture, out var code) || code is < 100 or > 999)
            {
                throw ProtocolError("the response headers have no valid :status (" + (status ?? "none") + ")");
            }

            if (code < 200)
            {
                // An informational answer (100 Continue): the real headers follow, so it cannot end the stream.
                if (_headerBlockEndsStream)
                {
                    throw ProtocolError("an informational answer (" + code + ") ends the stream");
                }

                return;
            }

            _httpStatus = code;
            _headers = fields;
            _phase = _headerBlockEndsStream ? Phase.Done : Phase.Body;
        }
        else if (_headerBlockEndsStream)
        {
            _trailers = fields;
            _phase = Phase.Done;
        }
        else
        {
            throw ProtocolError("the server sent a second header block that does not end the stream");
        }
    }

    private void AppendBody(ReadOnlySpan<byte> data)
    {
        _body.Append(data);
        if (_messageLength < 0 && _body.Count >= MessagePrefixLength)
        {
            var prefix = _body.Span;
            if (prefix[0] != 0)
            {
                throw new CallFailedException(
                    StatusCode.Internal,
                    prefix[0] == 1
                        ? "the server sent a compressed message although this client accepts identity only"
                        : "the server sent a message with an invalid compressed flag (" + prefix[0] + ")");
            }

            var length = BinaryPrimitives.ReadUInt32BigEndian(prefix[1..]);
            if (length > MaxResponseMessageSize)
            {
                throw new CallFailedException(
                    StatusCode.ResourceExhausted,
                    "Received message exceeds the maximum configured message size (" + length + " bytes > " + MaxResponseMessageSize + ").");
            }

            _messageLength = (int)length;
        }

        if (_messageLength >= 0 && _body.Count > MessagePrefixLength + _messageLength)
        {
            throw new CallFailedException(StatusCode.Internal, "the server sent more than one message in a unary answer");
        }
    }

    private UnaryReply Resolve()
    {
        if ((_trailers.Find("grpc-status") ?? _headers.Find("grpc-status")) is { } statusText)
        {
            if (!int.TryParse(statusText, NumberStyles.None, CultureInfo.InvariantCulture, out var code))
            {
                return UnaryReply.Failed(StatusCode.Unknown, "the server sent an invalid grpc-status: " + statusText);
            }

            if (code != (int)StatusCode.OK)
            {
                var detail = _trailers.Find("grpc-message") ?? _headers.Find("grpc-message") ?? string.Empty;
                return UnaryReply.Failed((StatusCode)code, Uri.UnescapeDataString(detail));
            }

            if (_messageLength < 0 || _body.Count < MessagePrefixLength + _messageLength)
            {
                return UnaryReply.Failed(
                    StatusCode.Internal,
                    _body.Count == 0 ? "the server answered OK without a response message" : "the response message is incomplete");
            }

            return UnaryReply.Ok(_body.Span.Slice(MessagePrefixLength, _messageLength).ToArray());
        }

        // No gRPC status: gRPC's HTTP mapping (doc/http-grpc-status-mapping.md), as Relay.Grpc's client does.
        if (_httpStatus != 200)
        {
            var status = _httpStatus switch
            {
                400 or 431 => StatusCode.Internal,
                401 => StatusCode.Unauthenticated,
                403 => StatusCode.PermissionDenied,
                404 => StatusCode.Unimplemented,
                429 or 502 or 503 or 504 => StatusCode.Unavailable,
                _ => StatusCode.Unknown,
            };
            return UnaryReply.Failed(status, "the server answered HTTP " + _httpStatus + " without a gRPC status");
        }

        var contentType = _headers.Find("content-type");
        return contentType is null || !contentType.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase)
            ? UnaryReply.Failed(StatusCode.Unknown, "the answer is not gRPC (content-type " + (contentType ?? "missing") + ")")
            : UnaryReply.Failed(StatusCode.Internal, "No grpc-status found on response.");
    }

    /// <summary>Closes politely: the rest of an unsent request is cancelled (the server already answered), then GOAWAY.</summary>
    private void Finish()
    {
        if (_requestSent < _request.Length)
        {
            Http2.WriteUInt32Frame(_output, Http2.RstStream, StreamId, Http2.NoError);
        }

        Http2.WriteFrameHeader(_output, GoAwayNoError.Length, Http2.GoAway, 0, 0);
        _output.Append(GoAwayNoError);
        try
        {
            Flush();
        }
        catch (Exception ex) when (ex is CallFailedException or UnixSocketException)
        {
            // Out of time for the goodbye: the answer is complete, and closing the socket says the same.
        }
    }

    private ReadOnlySpan<byte> ReadFrame(out byte type, out byte flags, out int stream)
    {
        Fill(Http2.FrameHeaderLength);
        var header = _input.AsSpan(_inputStart, Http2.FrameHeaderLength);
        var length = (header[0] << 16) | (header[1] << 8) | header[2];
        type = header[3];
        flags = header[4];
        stream = BinaryPrimitives.ReadInt32BigEndian(header[5..]) & int.MaxValue;
        if (length > Http2.DefaultMaxFrameSize)
        {
            throw ProtocolError(
                "the server sent a frame of " + length + " bytes, more than the " + Http2.DefaultMaxFrameSize + " this client allows",
                "FRAME_SIZE_ERROR");
        }

        Fill(Http2.FrameHeaderLength + length);
        var payload = _input.AsSpan(_inputStart + Http2.FrameHeaderLength, length);
        _inputStart += Http2.FrameHeaderLength + length;
        return payload;
    }

    /// <summary>Reads until <paramref name="count"/> bytes are buffered; the previous frame's payload may move.</summary>
    private void Fill(int count)
    {
        if (_inputEnd - _inputStart >= count)
        {
            return;
        }

        if (_input.Length - _inputStart < count)
        {
            _input.AsSpan(_inputStart, _inputEnd - _inputStart).CopyTo(_input);
            _inputEnd -= _inputStart;
            _inputStart = 0;
        }

        while (_inputEnd - _inputStart < count)
        {
            var remaining = _budget.Remaining;
            if (remaining == TimeSpan.Zero)
            {
                throw OutOfTime();
            }

            if (!Socket.WaitReadable(remaining))
            {
                continue;
            }

            int read;
            try
            {
                read = Socket.Receive(_input.AsSpan(_inputEnd));
            }
            catch (UnixSocketException ex)
            {
                // ECONNRESET: the server closed with our frames unread, the same as an end of stream to this client.
                throw Closed(ex.Message);
            }

            if (read == 0)
            {
                throw Closed(null);
            }

            _inputEnd += read;
        }
    }

    /// <summary>
    /// Sends what is queued. A send that fails for another reason than time is remembered, not thrown: a server may have
    /// answered and closed before reading our last frames (a SETTINGS acknowledgement), and its answer is still to be read.
    /// </summary>
    /// <summary>
    /// Sends what is queued. A send that fails for another reason than time is remembered, not thrown: a server may have
    /// answered and closed before reading our last frames (a SETTINGS acknowledgement), and its answer is still to be read.
    /// </summary>
    private void Flush()
    {
        if (_output.Count == 0)
        {
            return;
        }

        if (_budget.Expired)
        {
            throw OutOfTime();
        }

        try
        {
            if (_sendFailure is null)
            {
                // SO_SNDTIMEO: a server that stopped reading cannot hold a full socket buffer past the budget.
                Socket.Send(_output.Span, _budget.Remaining);
            }
        }
        catch (UnixSocketException ex) when (!ex.IsTimeout)
        {
            _sendFailure = ex.Message;
        }

        _output.Clear();
    }

    // Last stream id 0 (the client accepts no streams), NO_ERROR.
    private static ReadOnlySpan<byte> GoAwayNoError => [0, 0, 0, 0, 0, 0, 0, 0];

    private UnixSocket Socket => _socket ?? throw new InvalidOperationException("Not connected.");

    private static ReadOnlySpan<byte> Unpad(ReadOnlySpan<byte> payload, byte flags)
    {
        if ((flags & Http2.FlagPadded) == 0)
        {
            return payload;
        }

        if (payload.Length == 0 || payload[0] >= payload.Length)
        {
            throw ProtocolError("a padded frame has more padding than payload");
        }

        return payload[1..(payload.Length - payload[0])];
    }

    private static void RequireStream(int stream, string frame)
    {
        if (stream != StreamId)
        {
            throw ProtocolError("the server sent " + frame + " on stream " + stream + ", which this client did not open");
        }
    }

    private static void RequireConnection(int stream, string frame)
    {
        if (stream != 0)
        {
            throw ProtocolError("the server sent " + frame + " on stream " + stream + " instead of the connection");
        }
    }

    private static void RequireLength(ReadOnlySpan<byte> payload, int length, string frame)
    {
        if (payload.Length != length)
        {
            throw ProtocolError("a " + frame + " frame of " + payload.Length + " bytes (it must be " + length + ")", "FRAME_SIZE_ERROR");
        }
    }

    private CallFailedException Closed(string? receiveError) => new(
        StatusCode.Unavailable,
        "the server closed the connection before it answered"
        + (_goAway is null ? string.Empty : " (" + _goAway + ")")
        + (receiveError is null ? string.Empty : " (" + receiveError + ")")
        + (_sendFailure is null ? string.Empty : " (sending: " + _sendFailure + ")"));

    private static CallFailedException OutOfTime() => new(StatusCode.DeadlineExceeded, "out of time");

    private static CallFailedException ProtocolError(string what, string code = "PROTOCOL_ERROR") =>
        new(StatusCode.Internal, what + " (HTTP/2 " + code + ")");

    // RST_STREAM codes as gRPC maps them (grpc-wire.md §1.8).
    private static CallFailedException Reset(int code) => new(
        code switch
        {
            Http2.RefusedStream => StatusCode.Unavailable,
            Http2.Cancel => StatusCode.Cancelled,
            Http2.EnhanceYourCalm => StatusCode.ResourceExhausted,
            Http2.InadequateSecurity => StatusCode.PermissionDenied,
            _ => StatusCode.Internal,
        },
        "the server reset the call (RST_STREAM " + Http2.ErrorName(code) + ")");

    private sealed class CallFailedException(StatusCode status, string message) : Exception(message)
    {
        public StatusCode Status { get; } = status;
    }
}
