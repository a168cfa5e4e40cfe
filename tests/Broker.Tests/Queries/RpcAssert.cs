using Relay.Grpc;

namespace Relay.Broker.Tests.Queries;

/// <summary>Awaits a call that must fail, and returns its status.</summary>
internal static class RpcAssert
{
    public static async Task<Status> FailsAsync<T>(Func<Task<T>> call, StatusCode expected)
    {
        var ex = await call.Should().ThrowAsync<RpcException>();
        ex.Which.StatusCode.Should().Be(expected, ex.Which.Status.Detail);
        return ex.Which.Status;
    }
}
