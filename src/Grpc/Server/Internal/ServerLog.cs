using Microsoft.Extensions.Logging;

namespace Relay.Grpc.Server.Internal;

internal static partial class ServerLog
{
    [LoggerMessage(EventId = 1, EventName = "HandlerException", Level = LogLevel.Error, Message = "Error when executing service method '{Method}'.")]
    public static partial void HandlerException(ILogger logger, string method, Exception exception);

    [LoggerMessage(EventId = 2, EventName = "RpcError", Level = LogLevel.Information, Message = "Service method '{Method}' ended with {StatusCode}: {Detail}")]
    public static partial void RpcError(ILogger logger, string method, StatusCode statusCode, string detail);

    [LoggerMessage(EventId = 3, EventName = "CallAborted", Level = LogLevel.Debug, Message = "Call '{Method}' was aborted by the client.")]
    public static partial void CallAborted(ILogger logger, string method);

    [LoggerMessage(EventId = 4, EventName = "DeadlineExceeded", Level = LogLevel.Debug, Message = "Call '{Method}' exceeded its deadline.")]
    public static partial void DeadlineExceeded(ILogger logger, string method);

    [LoggerMessage(EventId = 5, EventName = "DeadlineCompletionFailed", Level = LogLevel.Debug, Message = "Ending call '{Method}' at its deadline failed.")]
    public static partial void DeadlineCompletionFailed(ILogger logger, string method, Exception exception);

    [LoggerMessage(EventId = 6, EventName = "DroppedMetadata", Level = LogLevel.Debug, Message = "Dropped malformed metadata '{Key}' on call '{Method}'.")]
    public static partial void DroppedMetadata(ILogger logger, string key, string method);

    [LoggerMessage(EventId = 7, EventName = "UnimplementedCall", Level = LogLevel.Debug, Message = "Call to unimplemented '{Path}'.")]
    public static partial void UnimplementedCall(ILogger logger, string path);

    [LoggerMessage(EventId = 8, EventName = "ServiceMapped", Level = LogLevel.Debug, Message = "Mapped gRPC service '{Service}' with {Count} methods.")]
    public static partial void ServiceMapped(ILogger logger, string service, int count);
}
