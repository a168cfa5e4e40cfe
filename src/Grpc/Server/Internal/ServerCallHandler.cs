using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.DependencyInjection;
using Relay.Grpc.Internal;

namespace Relay.Grpc.Server.Internal;

/// <summary>Serves one method: the checks every call goes through, then the method itself.</summary>
internal abstract class ServerCallHandler
{
    public abstract Task HandleCallAsync(HttpContext httpContext);
}

internal abstract class ServerCallHandler<TService, TRequest, TResponse> : ServerCallHandler
    where TService : class
{
    private static readonly ObjectFactory s_factory = ActivatorUtilities.CreateFactory(typeof(TService), Type.EmptyTypes);

    protected ServerCallHandler(Method<TRequest, TResponse> method, ServerCallHandlerOptions options)
    {
        Method = method;
        Options = options;
    }

    protected Method<TRequest, TResponse> Method { get; }

    protected ServerCallHandlerOptions Options { get; }

    public sealed override async Task HandleCallAsync(HttpContext httpContext)
    {
        if (!HttpProtocol.IsHttp2(httpContext.Request.Protocol) && !HttpProtocol.IsHttp3(httpContext.Request.Protocol))
        {
            httpContext.Response.StatusCode = StatusCodes.Status426UpgradeRequired;
            httpContext.Response.Headers.Upgrade = "HTTP/2";
            return;
        }

        if (!GrpcProtocol.IsGrpcContentType(httpContext.Request.ContentType))
        {
            httpContext.Response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            httpContext.Response.Headers[GrpcProtocol.StatusHeader] = "13";
            httpContext.Response.Headers[GrpcProtocol.MessageHeader] =
                PercentEncoding.Encode($"Content-Type '{httpContext.Request.ContentType}' is not supported; gRPC needs application/grpc.");
            return;
        }

        if (Method.ClientStreams)
        {
            // Kestrel's defaults kill a request body that is quiet for 5 s or passes ~28 MB: fatal for streams.
            if (httpContext.Features.Get<IHttpMinRequestBodyDataRateFeature>() is { } rate)
            {
                rate.MinDataRate = null;
            }

            if (httpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
            {
                size.MaxRequestBodySize = null;
            }
        }

        var call = new HttpServerCallContext(httpContext, Method.FullName, Options, Method.Type != MethodType.Unary);
        try
        {
            if (call.Initialize() is { } refusal)
            {
                httpContext.Response.Headers[GrpcProtocol.AcceptEncodingHeader] = Compression.AcceptEncodingValue;
                call.Complete(refusal, null);
                return;
            }

            try
            {
                await RunPipelineAsync(call).ConfigureAwait(false);
                call.Complete(call.Status, call.ResponseTrailersOrNull);
            }
            catch (Exception ex)
            {
                HandleException(call, ex);
            }

            await call.StopDeadlineAsync().ConfigureAwait(false);
        }
        finally
        {
            call.Dispose();
        }
    }

    /// <summary>Runs the method for one call: reads the request(s), invokes, writes the response(s).</summary>
    protected abstract Task InvokeAsync(HttpServerCallContext call, TService service);

    protected MessageReader<TRequest> CreateReader(HttpServerCallContext call) =>
        new(call.HttpContext.Request.BodyReader, Method.RequestMarshaller, Options.Options.MaxReceiveMessageSize, call.RequestEncoding, isServer: true);

    private Task RunPipelineAsync(HttpServerCallContext call)
    {
        var interceptors = Options.Interceptors;
        if (interceptors.Count == 0)
        {
            return InvokeWithServiceAsync(call);
        }

        Func<ServerCallContext, Task> next = c => InvokeWithServiceAsync((HttpServerCallContext)c);
        for (var i = interceptors.Count - 1; i >= 0; i--)
        {
            var interceptor = interceptors[i];
            var inner = next;
            next = c => interceptor.InterceptAsync(c, inner);
        }

        return next(call);
    }

    private async Task InvokeWithServiceAsync(HttpServerCallContext call)
    {
        var services = call.HttpContext.RequestServices;
        var service = services.GetService<TService>();
        if (service is not null)
        {
            await InvokeAsync(call, service).ConfigureAwait(false);
            return;
        }

        var created = (TService)s_factory(services, null);
        try
        {
            await InvokeAsync(call, created).ConfigureAwait(false);
        }
        finally
        {
            switch (created)
            {
                case IAsyncDisposable asyncDisposable:
                    await asyncDisposable.DisposeAsync().ConfigureAwait(false);
                    break;
                case IDisposable disposable:
                    disposable.Dispose();
                    break;
            }
        }
    }

    private void HandleException(HttpServerCallContext call, Exception ex)
    {
        var logger = Options.Logger;
        if (call.IsCompleted)
        {
            return;
        }

        switch (ex)
        {
            case RpcException rpc:
                if (rpc.StatusCode is StatusCode.Unknown or StatusCode.Internal)
                {
                    ServerLog.RpcError(logger, Method.FullName, rpc.StatusCode, rpc.Status.Detail);
                }

                var trailers = call.ResponseTrailersOrNull;
                if (rpc.Trailers.Count > 0)
                {
                    trailers ??= [];
                    foreach (var entry in rpc.Trailers)
                    {
                        trailers.Add(entry);
                    }
                }

                call.Complete(rpc.Status, trailers);
                break;
            case OperationCanceledException when call.HttpContext.RequestAborted.IsCancellationRequested:
                // The client reset the stream or the connection dropped: nobody is left to hear a status.
                ServerLog.CallAborted(logger, Method.FullName);
                call.Complete(Status.DefaultCancelled, null);
                break;
            case OperationCanceledException when call.DeadlineExpired:
                call.Complete(new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded"), null);
                break;
            case OperationCanceledException when Options.Lifetime.Stopping.IsCancellationRequested:
                call.Complete(new Status(StatusCode.Unavailable, "Server is shutting down."), null);
                break;
            case IOException when call.HttpContext.RequestAborted.IsCancellationRequested:
                call.Complete(Status.DefaultCancelled, null);
                break;
            default:
                ServerLog.HandlerException(logger, Method.FullName, ex);
                var detail = Options.Options.EnableDetailedErrors
                    ? $"Exception was thrown by handler. {ex.GetType().Name}: {ex.Message}"
                    : "Exception was thrown by handler.";
                call.Complete(new Status(StatusCode.Unknown, detail), null);
                break;
        }
    }
}
