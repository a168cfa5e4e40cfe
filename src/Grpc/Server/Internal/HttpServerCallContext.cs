using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Http;
using Relay.Grpc.Internal;

namespace Relay.Grpc.Server.Internal;

/// <summary>The server side of one call, over one HTTP/2 stream.</summary>
internal sealed partial class HttpServerCallContext : ServerCallContext, IDisposable
{
    private readonly HttpContext _http;
    private readonly string _method;
    private readonly ServerCallHandlerOptions _options;
    private readonly bool _streaming;
    private Metadata? _requestHeaders;
    private Metadata? _responseTrailers;
    private Dictionary<object, object?>? _userState;
    private CancellationTokenSource? _linkedCts;
    private CancellationTokenSource? _deadlineCts;
    private CancellationTokenRegistration _deadlineRegistration;
    private DateTime _deadline = DateTime.MaxValue;
    private CancellationToken _cancellationToken;

    // One write at a time; the deadline path takes it too so trailers never interleave with a message.
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private int _completed;

    public HttpServerCallContext(HttpContext http, string method, ServerCallHandlerOptions options, bool streaming)
    {
        _http = http;
        _method = method;
        _options = options;
        _streaming = streaming;
        Status = Status.DefaultSuccess;
    }

    public override string Method => _method;

    public override string Host => _http.Request.Host.Value ?? string.Empty;

    public override string Peer => FormatPeer(_http.Connection.RemoteIpAddress, _http.Connection.RemotePort);

    public override DateTime Deadline => _deadline;

    public override Metadata RequestHeaders => _requestHeaders ??= ReadRequestHeaders();

    public override CancellationToken CancellationToken => _cancellationToken;

    public override Metadata ResponseTrailers => _responseTrailers ??= [];

    public Metadata? ResponseTrailersOrNull => _responseTrailers;

    public override Status Status { get; set; }

    public override WriteOptions? WriteOptions { get; set; }

    public override IDictionary<object, object?> UserState => _userState ??= [];

    /// <summary>The encoding the client compresses its messages with (null for identity).</summary>
    public string? RequestEncoding { get; private set; }

    /// <summary>The encoding this server compresses its messages with (null for identity).</summary>
    public string? ResponseEncoding { get; private set; }

    public bool IsCompleted => Volatile.Read(ref _completed) != 0;

    /// <summary>
    /// True once the deadline timer has fired. The timer, not the wall clock, decides: the clock can jump,
    /// and a timer may fire a fraction of a millisecond before "now" reaches the deadline.
    /// </summary>
    public bool DeadlineExpired => _deadlineCts?.IsCancellationRequested == true;

    private const double MaxTimerMilliseconds = uint.MaxValue - 1.0;

    public ServerCallHandlerOptions Options => _options;

    public HttpContext HttpContext => _http;

    public override HttpContext GetHttpContext() => _http;

    /// <summary>
    /// Reads the deadline and encodings. Returns an error status when the call must be refused before
    /// the method runs (an encoding we cannot decode).
    /// </summary>
    public Status? Initialize()
    {
        var headers = _http.Request.Headers;
        var encoding = headers[GrpcProtocol.EncodingHeader].ToString();
        if (encoding.Length > 0 && encoding != GrpcProtocol.IdentityEncoding)
        {
            if (!Compression.IsSupported(encoding))
            {
                return new Status(StatusCode.Unimplemented,
                    $"Unsupported grpc-encoding value '{encoding}'. Supported encodings: {Compression.AcceptEncodingValue}");
            }

            RequestEncoding = encoding;
        }

        if (_options.Options.ResponseCompressionAlgorithm is { } responseEncoding
            && Compression.Accepts(headers[GrpcProtocol.AcceptEncodingHeader].ToString(), responseEncoding))
        {
            ResponseEncoding = responseEncoding;
        }

        var tokens = new List<CancellationToken>(3) { _http.RequestAborted };
        if (GrpcTimeout.TryParse(headers[GrpcProtocol.TimeoutHeader].ToString(), out var timeout))
        {
            var now = _options.TimeProvider.GetUtcNow().UtcDateTime;
            _deadline = timeout >= DateTime.MaxValue - now ? DateTime.MaxValue : now + timeout;

            // A timer cannot be armed beyond ~49.7 days (the constructor throws, which failed the call with
            // HTTP 500); the wire allows 99,999,999 s. A deadline that far away is as good as none.
            if (timeout.TotalMilliseconds < MaxTimerMilliseconds)
            {
                _deadlineCts = new CancellationTokenSource(timeout, _options.TimeProvider);
                tokens.Add(_deadlineCts.Token);
                _deadlineRegistration = _deadlineCts.Token.UnsafeRegister(static s => ((HttpServerCallContext)s!).OnDeadline(), this);
            }
        }

        // Unary calls finish quickly and are let run through shutdown; streams are told to end.
        if (_streaming && _options.Lifetime.Stopping.CanBeCanceled)
        {
            tokens.Add(_options.Lifetime.Stopping);
        }

        if (tokens.Count == 1)
        {
            SetToken(_http.RequestAborted);
        }
        else
        {
            _linkedCts = CancellationTokenSource.CreateLinkedTokenSource(tokens.ToArray());
            SetToken(_linkedCts.Token);
        }

        return null;
    }

    public void Dispose()
    {
        _deadlineRegistration.Dispose();
        _deadlineCts?.Dispose();
        _linkedCts?.Dispose();
    }

    private void SetToken(CancellationToken token) => _cancellationToken = token;

    private Metadata ReadRequestHeaders()
    {
        var metadata = new Metadata();
        foreach (var header in _http.Request.Headers)
        {
            // Kestrel capitalises known header names; metadata keys are lowercase on the wire.
            var key = header.Key.ToLowerInvariant();
            if (GrpcProtocol.IsReservedHeader(key))
            {
                continue;
            }

            foreach (var value in header.Value)
            {
                if (value is null)
                {
                    continue;
                }

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
                    // A malformed value must not fail the call: drop it, as the spec allows.
                    ServerLog.DroppedMetadata(_options.Logger, key, _method);
                }
            }
        }

        return metadata;
    }

    private static string FormatPeer(IPAddress? address, int port) => address switch
    {
        null => "unix:",
        { AddressFamily: System.Net.Sockets.AddressFamily.InterNetworkV6 } => string.Create(CultureInfo.InvariantCulture, $"ipv6:[{address}]:{port}"),
        _ => string.Create(CultureInfo.InvariantCulture, $"ipv4:{address}:{port}"),
    };
}
