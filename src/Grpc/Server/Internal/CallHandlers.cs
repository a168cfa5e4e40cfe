namespace Relay.Grpc.Server.Internal;

internal sealed class UnaryCallHandler<TService, TRequest, TResponse>(
    Method<TRequest, TResponse> method,
    UnaryServerMethod<TService, TRequest, TResponse> handler,
    ServerCallHandlerOptions options)
    : ServerCallHandler<TService, TRequest, TResponse>(method, options)
    where TService : class
{
    protected override async Task InvokeAsync(HttpServerCallContext call, TService service)
    {
        var request = await CreateReader(call).ReadSingleAsync(call.CancellationToken).ConfigureAwait(false);
        var response = await handler(service, request, call).ConfigureAwait(false)
            ?? throw new RpcException(new Status(StatusCode.Cancelled, "No message returned from method."));
        if (call.IsCompleted)
        {
            return;
        }

        // No flush: the trailers follow at once and go out in the same write.
        await call.WriteMessageAsync(response, Method.ResponseMarshaller, flush: false, call.CancellationToken).ConfigureAwait(false);
    }
}

internal sealed class ClientStreamingCallHandler<TService, TRequest, TResponse>(
    Method<TRequest, TResponse> method,
    ClientStreamingServerMethod<TService, TRequest, TResponse> handler,
    ServerCallHandlerOptions options)
    : ServerCallHandler<TService, TRequest, TResponse>(method, options)
    where TService : class
{
    protected override async Task InvokeAsync(HttpServerCallContext call, TService service)
    {
        var reader = new HttpRequestStreamReader<TRequest>(CreateReader(call), call);
        var response = await handler(service, reader, call).ConfigureAwait(false)
            ?? throw new RpcException(new Status(StatusCode.Cancelled, "No message returned from method."));
        if (call.IsCompleted)
        {
            return;
        }

        await call.WriteMessageAsync(response, Method.ResponseMarshaller, flush: false, call.CancellationToken).ConfigureAwait(false);
    }
}

internal sealed class ServerStreamingCallHandler<TService, TRequest, TResponse>(
    Method<TRequest, TResponse> method,
    ServerStreamingServerMethod<TService, TRequest, TResponse> handler,
    ServerCallHandlerOptions options)
    : ServerCallHandler<TService, TRequest, TResponse>(method, options)
    where TService : class
{
    protected override async Task InvokeAsync(HttpServerCallContext call, TService service)
    {
        var request = await CreateReader(call).ReadSingleAsync(call.CancellationToken).ConfigureAwait(false);
        var writer = new HttpResponseStreamWriter<TResponse>(call, Method.ResponseMarshaller);
        await handler(service, request, writer, call).ConfigureAwait(false);
    }
}

internal sealed class DuplexStreamingCallHandler<TService, TRequest, TResponse>(
    Method<TRequest, TResponse> method,
    DuplexStreamingServerMethod<TService, TRequest, TResponse> handler,
    ServerCallHandlerOptions options)
    : ServerCallHandler<TService, TRequest, TResponse>(method, options)
    where TService : class
{
    protected override async Task InvokeAsync(HttpServerCallContext call, TService service)
    {
        // Headers are not pushed before the method runs (as in grpc-dotnet): they go out with
        // WriteResponseHeadersAsync, the first message or the status. Sending them up front made
        // WriteResponseHeadersAsync impossible on duplex calls (the custom_metadata interop case).
        var reader = new HttpRequestStreamReader<TRequest>(CreateReader(call), call);
        var writer = new HttpResponseStreamWriter<TResponse>(call, Method.ResponseMarshaller);
        await handler(service, reader, writer, call).ConfigureAwait(false);
    }
}
