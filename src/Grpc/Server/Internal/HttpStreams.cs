using Relay.Grpc.Internal;

namespace Relay.Grpc.Server.Internal;

internal sealed class HttpRequestStreamReader<TRequest>(MessageReader<TRequest> reader, HttpServerCallContext call) : IAsyncStreamReader<TRequest>
{
    private bool _ended;
    private CancellationToken _linkedFor;
    private CancellationTokenSource? _linked;

    public TRequest Current { get; private set; } = default!;

    public async Task<bool> MoveNext(CancellationToken cancellationToken = default)
    {
        if (_ended)
        {
            return false;
        }

        // Services usually pass the call's own token: linking it to itself would allocate a token source per message for
        // nothing. A service that reads with a token of its own passes the same one every time (a read loop): it is
        // linked once, not once per message.
        var token = cancellationToken.CanBeCanceled && cancellationToken != call.CancellationToken
            ? LinkedWithCall(cancellationToken)
            : call.CancellationToken;
        var (hasMessage, message) = await reader.ReadAsync(token).ConfigureAwait(false);
        if (!hasMessage)
        {
            _ended = true;
            Current = default!;
            _linked?.Dispose();
            _linked = null;
            return false;
        }

        Current = message;
        return true;
    }

    // MoveNext is never called concurrently (one reader per stream), so the cached source needs no lock.
    private CancellationToken LinkedWithCall(CancellationToken cancellationToken)
    {
        if (_linked is null || _linkedFor != cancellationToken)
        {
            _linked?.Dispose();
            _linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, call.CancellationToken);
            _linkedFor = cancellationToken;
        }

        return _linked.Token;
    }
}

internal sealed class HttpResponseStreamWriter<TResponse>(HttpServerCallContext call, Marshaller<TResponse> marshaller) : IServerStreamWriter<TResponse>
{
    public WriteOptions? WriteOptions
    {
        get => call.WriteOptions;
        set => call.WriteOptions = value;
    }

    public Task WriteAsync(TResponse message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        var flush = WriteOptions is not { Flags: var flags } || (flags & WriteFlags.BufferHint) == 0;
        return call.WriteMessageAsync(message, marshaller, flush, cancellationToken.CanBeCanceled ? cancellationToken : call.CancellationToken);
    }
}
