using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Relay.Grpc.Internal;

namespace Relay.Grpc.Client.Internal;

/// <summary>
/// The client side of one call over one HTTP/2 stream: sends the request, validates the response
/// headers, reads messages and trailers, and turns every failure into a status.
/// </summary>
internal sealed partial class GrpcCall<TRequest, TResponse> : ICallState
    where TRequest : class
    where TResponse : class
{
    private readonly GrpcChannel _channel;
    private readonly Method<TRequest, TResponse> _method;
    private readonly CallOptions _options;
    private readonly CancellationTokenSource _cts;
    private readonly TaskCompletionSource<Metadata> _headersTcs = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _lock = new();
    private Task _startTask = Task.CompletedTask;
    private HttpResponseMessage? _response;
    private MessageReader<TResponse>? _reader;
    private HttpContent? _content;
    private Status? _status;
    private Metadata? _trailers;
    private bool _disposed;
    private ITimer? _deadlineTimer;
    private volatile bool _deadlineExpired;
    private CancellationTokenRegistration _callerRegistration;
    private CancellationTokenRegistration _channelRegistration;
    private CancellationTokenRegistration _cancelRegistration;

    public GrpcCall(GrpcChannel channel, Method<TRequest, TResponse> method, CallOptions options)
    {
        _channel = channel;
        _method = method;
        _options = options;
        // Registrations rather than a linked source: Finish removes them, so a long-lived channel (or
        // caller token) does not keep every finished call alive through its token's callback list.
        _cts = new CancellationTokenSource();
        _callerRegistration = options.CancellationToken.UnsafeRegister(static s => ((GrpcCall<TRequest, TResponse>)s!)._cts.Cancel(), this);
        _channelRegistration = channel.DisposedToken.UnsafeRegister(static s => ((GrpcCall<TRequest, TResponse>)s!)._cts.Cancel(), this);
        if (options.Deadline is { } deadline)
        {
            if (deadline.Kind != DateTimeKind.Utc && deadline != DateTime.MaxValue)
            {
                throw new ArgumentException("The deadline must be in UTC (DateTime.UtcNow + timeout).", nameof(options));
            }

            Deadline = deadline;
        }
    }

    public DateTime? Deadline { get; }

    public Task<Metadata> ResponseHeadersAsync => _headersTcs.Task;

    public IClientStreamWriter<TRequest> RequestStream { get; private set; } = null!;

    public IAsyncStreamReader<TResponse> ResponseStream => new ResponseStreamReader(this);

    public void StartWithRequest(TRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        byte[] body;
        try
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
            MessageFraming.WriteMessage(buffer, request, _method.RequestMarshaller, _channel.Options.MaxSendMessageSize, RequestEncoding);
            body = buffer.WrittenSpan.ToArray();
        }
        catch (RpcException ex)
        {
            Fail(ex.Status);
            return;
        }

        _content = new UnaryRequestContent(body);
        Start();
    }

    public void StartStreaming()
    {
        var content = new StreamingRequestContent();
        _content = content;
        RequestStream = new RequestStreamWriter(this, content);
        Start();
    }

    public Status GetStatus()
    {
        lock (_lock)
        {
            return _status ?? throw new InvalidOperationException("Unable to get the status because the call is not complete.");
        }
    }

    public Metadata GetTrailers()
    {
        lock (_lock)
        {
            return _status is null
                ? throw new InvalidOperationException("Can't get the call trailers because the call has not completed successfully.")
                : _trailers ?? Metadata.Empty;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        Finish(new Status(StatusCode.Cancelled, "Call canceled by the client."), null);
        _cts.Cancel();
        _response?.Dispose();
        _deadlineTimer?.Dispose();
        // _cts is not disposed: it has no timer to free, and a caller token or the deadline timer may still
        // be cancelling it on another thread, which would then throw ObjectDisposedException at them.
    }

    private string? RequestEncoding =>
        _channel.Options.CompressionAlgorithm is { } c && c != GrpcProtocol.IdentityEncoding ? c : null;

    private void Start()
    {
        if (Deadline is { } deadline)
        {
            var remaining = deadline - _channel.Options.TimeProvider.GetUtcNow().UtcDateTime;
            if (remaining <= TimeSpan.Zero)
            {
                Fail(new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded"));
                return;
            }

            // A timer longer than ~49 days cannot be armed; such a deadline is as good as none.
            if (remaining < TimeSpan.FromDays(40))
            {
                // The timer itself records that the deadline passed: it can fire a fraction of a
                // millisecond before the wall clock reaches the deadline (due times are whole
                // milliseconds) and the wall clock can jump, so "now >= deadline" alone would turn an
                // expired deadline into CANCELLED (seen with the 1 ms timeout_on_sleeping_server case).
                _deadlineTimer = _channel.Options.TimeProvider.CreateTimer(
                    static s => ((GrpcCall<TRequest, TResponse>)s!).OnDeadline(), this, remaining, Timeout.InfiniteTimeSpan);
            }
        }

        // Cancelling the call (caller token, deadline, channel disposal) must reset the HTTP/2 stream even
        // when no read or write is pending: nothing else would tell the server to stop.
        _cancelRegistration = _cts.Token.UnsafeRegister(static s => ((GrpcCall<TRequest, TResponse>)s!).OnCancelled(), this);
        _startTask = StartAsync();
    }

    private void OnCancelled()
    {
        Finish(ResolveException(new OperationCanceledException()), null);
        HttpResponseMessage? response;
        lock (_lock)
        {
            response = _response;
        }

        // Disposing an unfinished HTTP/2 response sends RST_STREAM(CANCEL).
        response?.Dispose();
    }

    private async Task StartAsync()
    {
        try
        {
            var request = await CreateRequestAsync().ConfigureAwait(false);
            var response = await _channel.Invoker.SendAsync(request, _cts.Token).ConfigureAwait(false);
            lock (_lock)
            {
                // Checked under the lock OnCancelled takes: either it sees this response or this sees it ran.
                if (_disposed || _cts.IsCancellationRequested)
                {
                    response.Dispose();
                    throw new OperationCanceledException();
                }

                _response = response;
            }

            var headers = ReadMetadata(response.Headers);
            if (ValidateResponse(response) is { } status)
            {
                _headersTcs.TrySetResult(headers);
                Finish(status, headers);
                return;
            }

            var encoding = response.Headers.TryGetValues(GrpcProtocol.EncodingHeader, out var values) ? values.FirstOrDefault() : null;
            var stream = await response.Content.ReadAsStreamAsync(_cts.Token).ConfigureAwait(false);
            var pipe = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, minimumReadSize: 4 * 1024));
            _reader = new MessageReader<TResponse>(pipe, _method.ResponseMarshaller, _channel.Options.MaxReceiveMessageSize,
                encoding is null or GrpcProtocol.IdentityEncoding ? null : encoding, isServer: false);
            _headersTcs.TrySetResult(headers);
        }
        catch (Exception ex)
        {
            Fail(ResolveException(ex));
        }
    }

    private async ValueTask<HttpRequestMessage> CreateRequestAsync()
    {
        var metadata = _options.Headers;
        if (_channel.Options.Interceptors.Count > 0)
        {
            var copy = new Metadata();
            if (metadata is not null)
            {
                foreach (var entry in metadata)
                {
                    copy.Add(entry);
                }
            }

            var context = new ClientCallContext(_method.FullName, copy, Deadline);
            foreach (var interceptor in _channel.Options.Interceptors)
            {
                await interceptor.OnCallStartingAsync(context, _cts.Token).ConfigureAwait(false);
            }

            metadata = copy;
        }

        var request = new HttpRequestMessage(HttpMethod.Post, _channel.GetMethodUri(_method.FullName))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = _content,
        };
        var headers = request.Headers;
        headers.TryAddWithoutValidation("te", GrpcProtocol.TeTrailers);
        headers.TryAddWithoutValidation("user-agent", GrpcProtocol.UserAgent);
        headers.TryAddWithoutValidation(GrpcProtocol.AcceptEncodingHeader, Compression.AcceptEncodingValue);
        if (RequestEncoding is { } encoding)
        {
            headers.TryAddWithoutValidation(GrpcProtocol.EncodingHeader, encoding);
        }

        if (Deadline is { } deadline && deadline != DateTime.MaxValue)
        {
            var remaining = deadline - _channel.Options.TimeProvider.GetUtcNow().UtcDateTime;
            headers.TryAddWithoutValidation(GrpcProtocol.TimeoutHeader, GrpcTimeout.Encode(remaining));
        }

        if (metadata is not null)
        {
            foreach (var entry in metadata)
            {
                // The protocol's own headers are the layer's to set; a caller's copy would corrupt the call.
                if (GrpcProtocol.IsReservedHeader(entry.Key))
                {
                    continue;
                }

                headers.TryAddWithoutValidation(entry.Key, entry.IsBinary ? BinaryHeader.Encode(entry.ValueBytes) : entry.Value);
            }
        }

        return request;
    }

    /// <summary>A status when the response ends the call at once (Trailers-Only or not gRPC); null to read on.</summary>
    private static Status? ValidateResponse(HttpResponseMessage response)
    {
        if (TryGetStatus(response.Headers, out var status))
        {
            return status;
        }

        if (response.StatusCode != HttpStatusCode.OK)
        {
            var code = (int)response.StatusCode;
            return new Status(GrpcProtocol.FromHttpStatus(code), string.Create(CultureInfo.InvariantCulture, $"Bad gRPC response. HTTP status code: {code}"));
        }

        if (response.Version < HttpVersion.Version20)
        {
            return new Status(StatusCode.Internal, "Bad gRPC response. Response protocol downgraded to HTTP/1.1.");
        }

        var contentType = response.Content.Headers.ContentType?.MediaType;
        if (!GrpcProtocol.IsGrpcContentType(contentType))
        {
            return new Status(StatusCode.Unknown, $"Bad gRPC response. Invalid content-type value: {contentType ?? "(none)"}");
        }

        return null;
    }

    private static bool TryGetStatus(HttpHeaders headers, out Status status)
    {
        status = default;
        if (!headers.TryGetValues(GrpcProtocol.StatusHeader, out var codes))
        {
            return false;
        }

        var text = codes.FirstOrDefault();
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var code))
        {
            status = new Status(StatusCode.Unknown, $"Unexpected grpc-status value: {text}");
            return true;
        }

        var message = headers.TryGetValues(GrpcProtocol.MessageHeader, out var messages) ? PercentEncoding.Decode(messages.FirstOrDefault() ?? string.Empty) : string.Empty;
        status = new Status((StatusCode)code, message);
        return true;
    }

    private static Metadata ReadMetadata(HttpHeaders headers)
    {
        var metadata = new Metadata();
        foreach (var header in headers)
        {
            var key = header.Key.ToLowerInvariant();
            if (GrpcProtocol.IsReservedHeader(key) || key == GrpcProtocol.StatusDetailsHeader)
            {
                continue;
            }

            foreach (var value in header.Value)
            {
                try
                {
                    if (Metadata.Entry.IsBinaryKey(key))
                    {
                        foreach (var bytes in BinaryHeader.Decode(value))
                        {
                            metadata.Add(key, bytes);
                        }
                    }
                    else
                    {
                        metadata.Add(key, value.Trim());
                    }
                }
                catch (Exception ex) when (ex is FormatException or ArgumentException)
                {
                    // A malformed value is dropped, never fatal to the call.
                }
            }
        }

        return metadata;
    }

    private Status ResolveException(Exception ex)
    {
        if (ex is RpcException rpc)
        {
            return rpc.Status;
        }

        if (DeadlinePassed())
        {
            return new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded");
        }

        if (ex is OperationCanceledException)
        {
            return _channel.DisposedToken.IsCancellationRequested && !_options.CancellationToken.IsCancellationRequested
                ? new Status(StatusCode.Cancelled, "The channel was disposed.")
                : new Status(StatusCode.Cancelled, "Call canceled by the client.");
        }

        for (var inner = ex; inner is not null; inner = inner.InnerException)
        {
            if (inner is HttpProtocolException protocol)
            {
                var code = GrpcProtocol.FromHttp2ErrorCode(protocol.ErrorCode);
                return new Status(code, $"Error from the HTTP/2 transport ({protocol.ErrorCode}): {protocol.Message}");
            }
        }

        for (var inner = ex; inner is not null; inner = inner.InnerException)
        {
            if (inner is SocketException or IOException or HttpRequestException)
            {
                return new Status(StatusCode.Unavailable, $"Error connecting to or talking with the server: {inner.Message}");
            }
        }

        return new Status(StatusCode.Internal, $"Error starting gRPC call. {ex.GetType().Name}: {ex.Message}");
    }

    private void OnDeadline()
    {
        _deadlineExpired = true;
        try
        {
            _cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The call was disposed meanwhile; nothing is left to cancel.
        }
    }

    private bool DeadlinePassed() =>
        _deadlineExpired || (Deadline is { } deadline && _channel.Options.TimeProvider.GetUtcNow().UtcDateTime >= deadline);

    /// <summary>Ends the call with a status that was not read from trailers (local or headers-only).</summary>
    private void Fail(Status status)
    {
        Finish(status, null);
        _headersTcs.TrySetException(new RpcException(status));
        _ = _headersTcs.Task.Exception; // observed: nobody has to await the headers
    }

    /// <summary>Records the final status once and releases the request body.</summary>
    private void Finish(Status status, Metadata? trailers)
    {
        lock (_lock)
        {
            if (_status is not null)
            {
                return;
            }

            _status = status;
            _trailers = trailers;
        }

        // The call is over: stop watching the caller's token, the channel and the clock.
        _callerRegistration.Unregister();
        _channelRegistration.Unregister();
        _deadlineTimer?.Dispose();
        var ok = status.StatusCode == StatusCode.OK;
        if (!ok)
        {
            // Resets the HTTP/2 stream if it is still open (OnCancelled), freeing the server's side too. Before the
            // request body is released: released first, its END_STREAM could reach the server ahead of the reset.
            _cts.Cancel();
        }

        (_content as StreamingRequestContent)?.Abort(ok);

        // Last: the transport may keep the call's token a while, and must not keep the call through it.
        _cancelRegistration.Unregister();
    }
}
