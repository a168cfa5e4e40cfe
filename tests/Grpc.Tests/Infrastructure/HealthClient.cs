using Grpc.Health.V1;

namespace Relay.Grpc.Tests.Infrastructure;

/// <summary>A typed client for grpc.health.v1.Health.</summary>
internal sealed class HealthClient(GrpcChannel channel)
{
    private static readonly Method<HealthCheckRequest, HealthCheckResponse> s_check = new(
        MethodType.Unary, "grpc.health.v1.Health", "Check", Marshallers.Protobuf(HealthCheckRequest.Parser), Marshallers.Protobuf(HealthCheckResponse.Parser));

    private static readonly Method<HealthCheckRequest, HealthCheckResponse> s_watch = new(
        MethodType.ServerStreaming, "grpc.health.v1.Health", "Watch", Marshallers.Protobuf(HealthCheckRequest.Parser), Marshallers.Protobuf(HealthCheckResponse.Parser));

    private readonly CallInvoker _invoker = channel.CreateCallInvoker();

    public AsyncUnaryCall<HealthCheckResponse> Check(HealthCheckRequest request) => _invoker.AsyncUnaryCall(s_check, default, request);

    public AsyncServerStreamingCall<HealthCheckResponse> Watch(HealthCheckRequest request) => _invoker.AsyncServerStreamingCall(s_watch, default, request);
}
