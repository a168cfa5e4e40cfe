using Relay.Grpc.Internal;

namespace Relay.Grpc.Server.Internal;

internal sealed class HttpRequestStreamReader<TRequest>(MessageReader<TRequest> reader, HttpServerCallContext call) : IAsyncStreamReader<TRequest>
{
    private bool _ended;

    public TRequest Current { get; private set; } = default!;

    public async Task<bool> MoveNext(CancellationToken cancellationToken = default)
    {
        if (_ended)
        {
            return false;
        }

        // Services usually pass the call's own token: linking it to itself would allocate a token source
        // per message for nothing.
        using var linked = cancellationToken.CanBeCanceled && cancellationToken != call.CancellationToken
            ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, call.CancellationToken)
            : null;
        var (hasMessage, message) = await reader.ReadAsync(linked?.Token ?? call.CancellationToken).ConfigureAwait(false);
        if (!hasMessage)
        {
            _ended = true;
            Current = default!;
            return false;
        }

        Current = message;
        return true;
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
