using System.Runtime.CompilerServices;

namespace Relay.Grpc;

/// <summary>The parts of a running call that every shape shares.</summary>
internal interface ICallState : IDisposable
{
    Task<Metadata> ResponseHeadersAsync { get; }

    Status GetStatus();

    Metadata GetTrailers();
}

/// <summary>A unary call in progress. Await it for the response; dispose it to cancel.</summary>
public sealed class AsyncUnaryCall<TResponse> : IDisposable
{
    private readonly ICallState _call;

    internal AsyncUnaryCall(Task<TResponse> responseAsync, ICallState call)
    {
        ResponseAsync = responseAsync;
        _call = call;
    }

    /// <summary>The response; throws <see cref="RpcException"/> for a status other than OK.</summary>
    public Task<TResponse> ResponseAsync { get; }

    /// <summary>The response headers.</summary>
    public Task<Metadata> ResponseHeadersAsync => _call.ResponseHeadersAsync;

    /// <summary>The status; only once the call has ended.</summary>
    public Status GetStatus() => _call.GetStatus();

    /// <summary>The trailing metadata; only once the call has ended.</summary>
    public Metadata GetTrailers() => _call.GetTrailers();

    /// <summary>Awaits the response.</summary>
    public TaskAwaiter<TResponse> GetAwaiter() => ResponseAsync.GetAwaiter();

    /// <summary>Cancels the call if it is still running and frees its resources.</summary>
    public void Dispose() => _call.Dispose();
}

/// <summary>A server-streaming call in progress.</summary>
public sealed class AsyncServerStreamingCall<TResponse> : IDisposable
{
    private readonly ICallState _call;

    internal AsyncServerStreamingCall(IAsyncStreamReader<TResponse> responseStream, ICallState call)
    {
        ResponseStream = responseStream;
        _call = call;
    }

    /// <summary>The responses; <c>MoveNext</c> throws <see cref="RpcException"/> for a status other than OK.</summary>
    public IAsyncStreamReader<TResponse> ResponseStream { get; }

    /// <summary>The response headers.</summary>
    public Task<Metadata> ResponseHeadersAsync => _call.ResponseHeadersAsync;

    /// <summary>The status; only once the call has ended.</summary>
    public Status GetStatus() => _call.GetStatus();

    /// <summary>The trailing metadata; only once the call has ended.</summary>
    public Metadata GetTrailers() => _call.GetTrailers();

    /// <summary>Cancels the call if it is still running and frees its resources.</summary>
    public void Dispose() => _call.Dispose();
}

/// <summary>A client-streaming call in progress.</summary>
public sealed class AsyncClientStreamingCall<TRequest, TResponse> : IDisposable
{
    private readonly ICallState _call;

    internal AsyncClientStreamingCall(IClientStreamWriter<TRequest> requestStream, Task<TResponse> responseAsync, ICallState call)
    {
        RequestStream = requestStream;
        ResponseAsync = responseAsync;
        _call = call;
    }

    /// <summary>The requests; call <see cref="IClientStreamWriter{T}.CompleteAsync"/> when done.</summary>
    public IClientStreamWriter<TRequest> RequestStream { get; }

    /// <summary>The response; throws <see cref="RpcException"/> for a status other than OK.</summary>
    public Task<TResponse> ResponseAsync { get; }

    /// <summary>The response headers.</summary>
    public Task<Metadata> ResponseHeadersAsync => _call.ResponseHeadersAsync;

    /// <summary>The status; only once the call has ended.</summary>
    public Status GetStatus() => _call.GetStatus();

    /// <summary>The trailing metadata; only once the call has ended.</summary>
    public Metadata GetTrailers() => _call.GetTrailers();

    /// <summary>Awaits the response.</summary>
    public TaskAwaiter<TResponse> GetAwaiter() => ResponseAsync.GetAwaiter();

    /// <summary>Cancels the call if it is still running and frees its resources.</summary>
    public void Dispose() => _call.Dispose();
}

/// <summary>A bidirectional-streaming call in progress.</summary>
public sealed class AsyncDuplexStreamingCall<TRequest, TResponse> : IDisposable
{
    private readonly ICallState _call;

    internal AsyncDuplexStreamingCall(IClientStreamWriter<TRequest> requestStream, IAsyncStreamReader<TResponse> responseStream, ICallState call)
    {
        RequestStream = requestStream;
        ResponseStream = responseStream;
        _call = call;
    }

    /// <summary>The requests; call <see cref="IClientStreamWriter{T}.CompleteAsync"/> when done.</summary>
    public IClientStreamWriter<TRequest> RequestStream { get; }

    /// <summary>The responses; <c>MoveNext</c> throws <see cref="RpcException"/> for a status other than OK.</summary>
    public IAsyncStreamReader<TResponse> ResponseStream { get; }

    /// <summary>The response headers.</summary>
    public Task<Metadata> ResponseHeadersAsync => _call.ResponseHeadersAsync;

    /// <summary>The status; only once the call has ended.</summary>
    public Status GetStatus() => _call.GetStatus();

    /// <summary>The trailing metadata; only once the call has ended.</summary>
    public Metadata GetTrailers() => _call.GetTrailers();

    /// <summary>Cancels the call if it is still running and frees its resources.</summary>
    public void Dispose() => _call.Dispose();
}
