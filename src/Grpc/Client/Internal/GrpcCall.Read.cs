namespace Relay.Grpc.Client.Internal;

internal sealed partial class GrpcCall<TRequest, TResponse>
{
    private int _readInProgress;

    /// <summary>The single response of a unary or client-streaming call.</summary>
    public async Task<TResponse> ReadSingleResponseAsync()
    {
        var (hasMessage, message) = await ReadNextAsync(CancellationToken.None).ConfigureAwait(false);
        if (!hasMessage)
        {
            var status = new Status(StatusCode.Internal, "Failed to deserialize response message. The response ended without a message.");
            OverrideOkStatus(status);
            throw new RpcException(status);
        }

        var (extra, _) = await ReadNextAsync(CancellationToken.None).ConfigureAwait(false);
        if (extra)
        {
            var status = new Status(StatusCode.Internal, "Additional data after the response message; this method returns exactly one.");
            FailWith(status);
            throw new RpcException(status);
        }

        return message;
    }

    /// <summary>Reads the next response message; at the end, reads the status and throws unless it is OK.</summary>
    public async ValueTask<(bool HasMessage, TResponse Message)> ReadNextAsync(CancellationToken cancellationToken)
    {
        await _startTask.ConfigureAwait(false);
        if (Interlocked.Exchange(ref _readInProgress, 1) != 0)
        {
            throw new InvalidOperationException("Can't read the next message because the previous read is still in progress.");
        }

        try
        {
            return await ReadNextCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _readInProgress, 0);
        }
    }

    private async ValueTask<(bool HasMessage, TResponse Message)> ReadNextCoreAsync(CancellationToken cancellationToken)
    {
        var reader = _reader;
        Status? finished;
        lock (_lock)
        {
            finished = reader is null || _status is { StatusCode: not StatusCode.OK } ? _status : null;
        }

        if (finished is { } done)
        {
            return done.StatusCode == StatusCode.OK ? (false, default!) : throw new RpcException(done, _trailers ?? Metadata.Empty);
        }

        try
        {
            using var linked = NeedsLink(cancellationToken) ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _cts.Token) : null;
            var (hasMessage, message) = await reader!.ReadAsync(linked?.Token ?? _cts.Token).ConfigureAwait(false);
            if (hasMessage)
            {
                return (true, message);
            }
        }
        catch (Exception ex)
        {
            var status = ResolveException(ex);
            FailWith(status);
            throw new RpcException(status, Metadata.Empty, ex is RpcException ? null : ex);
        }

        // End of the body: the trailers are there now.
        var response = _response!;
        Status final;
        if (!TryGetStatus(response.TrailingHeaders, out final) && !TryGetStatus(response.Headers, out final))
        {
            final = new Status(StatusCode.Internal, "No grpc-status found on response.");
        }

        var trailers = ReadMetadata(response.TrailingHeaders);
        Finish(final, trailers);
        lock (_lock)
        {
            final = _status!.Value;
        }

        response.Dispose();
        return final.StatusCode == StatusCode.OK ? (false, default!) : throw new RpcException(final, _trailers ?? Metadata.Empty);
    }

    /// <summary>
    /// Whether a per-read or per-write token must be linked with the call's own. The call's token source is
    /// already linked to <see cref="CallOptions.CancellationToken"/>, and callers usually pass that same token
    /// to every read and write: linking it again would allocate a token source per message for nothing.
    /// </summary>
    private bool NeedsLink(CancellationToken cancellationToken) =>
        cancellationToken.CanBeCanceled && cancellationToken != _options.CancellationToken;

    private void FailWith(Status status)
    {
        Finish(status, null);
        _cts.Cancel();
    }

    private void OverrideOkStatus(Status status)
    {
        lock (_lock)
        {
            if (_status is { StatusCode: StatusCode.OK })
            {
                _status = status;
            }
        }
    }

    private sealed class ResponseStreamReader(GrpcCall<TRequest, TResponse> call) : IAsyncStreamReader<TResponse>
    {
        public TResponse Current { get; private set; } = default!;

        public async Task<bool> MoveNext(CancellationToken cancellationToken = default)
        {
            var (hasMessage, message) = await call.ReadNextAsync(cancellationToken).ConfigureAwait(false);
            Current = hasMessage ? message : default!;
            return hasMessage;
        }
    }
}
