using Grpc.Health.V1;

namespace Relay.Grpc.Health;

/// <summary>The standard <c>grpc.health.v1.Health</c> service (Check and Watch).</summary>
internal sealed class HealthService(HealthStatusStore store)
{
    public const string ServiceName = "grpc.health.v1.Health";

    private static readonly Method<HealthCheckRequest, HealthCheckResponse> s_check = new(
        MethodType.Unary, ServiceName, "Check", Marshallers.Protobuf(HealthCheckRequest.Parser), Marshallers.Protobuf(HealthCheckResponse.Parser));

    private static readonly Method<HealthCheckRequest, HealthCheckResponse> s_watch = new(
        MethodType.ServerStreaming, ServiceName, "Watch", Marshallers.Protobuf(HealthCheckRequest.Parser), Marshallers.Protobuf(HealthCheckResponse.Parser));

    public static void Bind(ServiceBinder<HealthService> binder)
    {
        binder.ServiceDescriptor = HealthReflection.Descriptor.Services[0];
        binder.AddUnaryMethod(s_check, static (service, request, context) => service.Check(request));
        binder.AddServerStreamingMethod(s_watch, static (service, request, stream, context) => service.WatchAsync(request, stream, context));
    }

    private Task<HealthCheckResponse> Check(HealthCheckRequest request) =>
        store.GetStatus(request.Service) is { } status
            ? Task.FromResult(new HealthCheckResponse { Status = status })
            : throw new RpcException(new Status(StatusCode.NotFound, $"Service '{request.Service}' is not registered with the health service."));

    private async Task WatchAsync(HealthCheckRequest request, IServerStreamWriter<HealthCheckResponse> stream, ServerCallContext context)
    {
        var reader = store.Watch(request.Service, out var unsubscribe);
        // Writes stop only when the client goes away: on shutdown the call's token fires right after the
        // store turns NOT_SERVING, and that last status must still go out before the stream ends.
        var clientGone = context.GetHttpContext().RequestAborted;
        try
        {
            await foreach (var status in reader.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
            {
                await stream.WriteAsync(new HealthCheckResponse { Status = status }, clientGone).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!clientGone.IsCancellationRequested && reader.TryRead(out var last))
        {
            await stream.WriteAsync(new HealthCheckResponse { Status = last }, clientGone).ConfigureAwait(false);
            throw;
        }
        finally
        {
            unsubscribe();
        }
    }
}
