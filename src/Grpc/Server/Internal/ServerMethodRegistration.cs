namespace Relay.Grpc.Server.Internal;

internal sealed record ServerMethodRegistration<TService>(
    string ServiceName,
    string MethodName,
    string Path,
    Func<ServerCallHandlerOptions, ServerCallHandler> CreateHandler)
    where TService : class;
