using Microsoft.AspNetCore.Http;
using Relay.Grpc;

namespace Relay.Broker.Tests.Access;

/// <summary>A server call context for driving the <see cref="Relay.Broker.Access.AccessInterceptor"/> directly.</summary>
internal sealed class FakeCallContext(string method, string? authorization, CancellationToken cancellationToken) : ServerCallContext
{
    private readonly Metadata _headers = authorization is null ? [] : [new Metadata.Entry("authorization", authorization)];
    private readonly Dictionary<object, object?> _userState = [];

    public override string Method => method;

    public override string Host => "localhost";

    public override string Peer => "ipv4:127.0.0.1:50000";

    public override DateTime Deadline => DateTime.MaxValue;

    public override Metadata RequestHeaders => _headers;

    public override CancellationToken CancellationToken => cancellationToken;

    public override Metadata ResponseTrailers { get; } = [];

    public override Status Status { get; set; }

    public override WriteOptions? WriteOptions { get; set; }

    public override IDictionary<object, object?> UserState => _userState;

    public override Task WriteResponseHeadersAsync(Metadata responseHeaders) => Task.CompletedTask;

    public override HttpContext GetHttpContext() => new DefaultHttpContext();
}
