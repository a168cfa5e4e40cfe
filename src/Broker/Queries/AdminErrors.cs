using Relay.Broker.Validation;
using Relay.Grpc;

namespace Relay.Broker.Queries;

/// <summary>
/// The statuses of sessions, prompts, approvals, launches and watch; INVALID_ARGUMENT messages always start with the
/// field they are about (the shared <see cref="RpcErrors"/> underneath).
/// </summary>
internal static class AdminErrors
{
    public static RpcException InvalidArgument(string field, string problem) => RpcErrors.InvalidArgument($"{field}: {problem}");

    public static RpcException NotFound(string message) => RpcErrors.NotFound(message);

    public static RpcException FailedPrecondition(string message) => RpcErrors.FailedPrecondition(message);

    public static RpcException AlreadyExists(string message) => RpcErrors.AlreadyExists(message);

    public static RpcException OutOfRange(string message) => new(new Status(StatusCode.OutOfRange, message));

    public static RpcException ResourceExhausted(string message) => RpcErrors.ResourceExhausted(message);
}
