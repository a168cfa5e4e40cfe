using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Relay.Grpc.Internal;

namespace Relay.Grpc.Server.Internal;

internal sealed partial class HttpServerCallContext
{
    private Metadata? _pendingResponseHeaders;

    public override Task WriteResponseHeadersAsync(Metadata responseHeaders)
    {
        ArgumentNullException.ThrowIfNull(responseHeaders);
        if (_http.Response.HasStarted)
        {
            throw new InvalidOperationException("Response headers can only be sent once per call.");
        }

        _pendingResponseHeaders = responseHeaders;
        return StartResponseAsync(flush: true);
    }

    /// <summary>Sends the response headers (and optionally flushes them to the client at once).</summary>
    public async Task StartResponseAsync(bool flush)
    {
        if (_http.Response.HasStarted)
        {
            return;
        }

        ApplyResponseHeaders();
        await _http.Response.StartAsync(CancellationToken).ConfigureAwait(false);
        if (flush)
        {
            await _http.Response.BodyWriter.FlushAsync(CancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Writes one response message; flushes unless the write options hint at buffering.</summary>
    public async Task WriteMessageAsync<TResponse>(TResponse message, Marshaller<TResponse> marshaller, bool flush, CancellationToken cancellationToken)
    {
        if (!_writeLock.Wait(0, CancellationToken.None))
        {
            throw new InvalidOperationException("Only one write can be pending at a time.");
        }

        try
        {
            if (IsCompleted)
            {
                throw new InvalidOperationException("Can't write the message because the call is complete.");
            }

            if (!_http.Response.HasStarted)
            {
                ApplyResponseHeaders();
                await _http.Response.StartAsync(cancellationToken).ConfigureAwait(false);
            }

            var writer = _http.Response.BodyWriter;
            MessageFraming.WriteMessage(writer, message, marshaller, _options.Options.MaxSendMessageSize, ResponseEncoding);
            if (flush)
            {
                var result = await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
                if (result.IsCanceled || result.IsCompleted)
                {
                    throw new OperationCanceledException("The client is no longer reading the response.");
                }
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Ends the call with <paramref name="status"/>: trailers, or a Trailers-Only response if nothing was sent.</summary>
    public void Complete(Status status, Metadata? trailers)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return;
        }

        WriteStatus(status, trailers);
    }

    private void WriteStatus(Status status, Metadata? trailers)
    {
        var response = _http.Response;
        if (response.HasStarted)
        {
            response.AppendTrailer(GrpcProtocol.StatusHeader, StatusCodeText(status.StatusCode));
            if (!string.IsNullOrEmpty(status.Detail))
            {
                response.AppendTrailer(GrpcProtocol.MessageHeader, PercentEncoding.Encode(status.Detail));
            }

            if (trailers is not null)
            {
                foreach (var entry in trailers)
                {
                    response.AppendTrailer(entry.Key, entry.IsBinary ? BinaryHeader.Encode(entry.ValueBytes) : entry.Value);
                }
            }
        }
        else
        {
            // Trailers-Only: one HEADERS frame with END_STREAM carrying the status.
            ApplyResponseHeaders();
            var headers = response.Headers;
            headers[GrpcProtocol.StatusHeader] = StatusCodeText(status.StatusCode);
            if (!string.IsNullOrEmpty(status.Detail))
            {
                headers[GrpcProtocol.MessageHeader] = PercentEncoding.Encode(status.Detail);
            }

            if (trailers is not null)
            {
                AppendMetadata(headers, trailers);
            }
        }
    }

    private void ApplyResponseHeaders()
    {
        var response = _http.Response;
        response.ContentType = GrpcProtocol.ContentType;
        if (ResponseEncoding is { } encoding)
        {
            response.Headers[GrpcProtocol.EncodingHeader] = encoding;
        }

        response.Headers[GrpcProtocol.AcceptEncodingHeader] = Compression.AcceptEncodingValue;
        if (_pendingResponseHeaders is { } pending)
        {
            AppendMetadata(response.Headers, pending);
            _pendingResponseHeaders = null;
        }
    }

    private static void AppendMetadata(IHeaderDictionary headers, Metadata metadata)
    {
        foreach (var entry in metadata)
        {
            var value = entry.IsBinary ? BinaryHeader.Encode(entry.ValueBytes) : entry.Value;
            headers.Append(entry.Key, value);
        }
    }

    private static string StatusCodeText(StatusCode code) => code switch
    {
        StatusCode.OK => "0",
        _ => ((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private Task? _deadlineTask;

    private void OnDeadline()
    {
        // Runs on a timer thread; the method may still be running and may be mid-write. The handler
        // awaits this task before it returns, so the HttpContext is never touched after the request ends.
        _deadlineTask = DeadlineExceededAsync();
    }

    /// <summary>Stops the deadline timer and waits for a deadline completion already under way.</summary>
    public async ValueTask StopDeadlineAsync()
    {
        // Disposing the registration waits for a running callback, so _deadlineTask is final after it.
        _deadlineRegistration.Dispose();
        if (_deadlineTask is { } task)
        {
            await task.ConfigureAwait(false);
        }
    }

    private async Task DeadlineExceededAsync()
    {
        try
        {
            ServerLog.DeadlineExceeded(_options.Logger, _method);
            var acquired = await _writeLock.WaitAsync(TimeSpan.FromMilliseconds(50)).ConfigureAwait(false);
            try
            {
                if (Interlocked.Exchange(ref _completed, 1) != 0)
                {
                    return;
                }

                if (acquired)
                {
                    WriteStatus(new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded"), null);
                    await _http.Features.Get<IHttpResponseBodyFeature>()!.CompleteAsync().ConfigureAwait(false);
                }
            }
            finally
            {
                if (acquired)
                {
                    _writeLock.Release();
                }
            }

            // The client has given up on this stream; RST_STREAM(CANCEL) frees it on both sides.
            _http.Features.Get<IHttpResetFeature>()?.Reset(8);
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            ServerLog.DeadlineCompletionFailed(_options.Logger, _method, ex);
        }
    }
}
