using Microsoft.AspNetCore.Http;

namespace Relay.Grpc;

/// <summary>What a service method knows about its call.</summary>
public abstract class ServerCallContext
{
    /// <summary>The method's path, e.g. <c>/relay.v1.Admin/ListSessions</c>.</summary>
    public abstract string Method { get; }

    /// <summary>The <c>:authority</c> the client called.</summary>
    public abstract string Host { get; }

    /// <summary>The peer address, e.g. <c>ipv4:127.0.0.1:51234</c> or <c>unix:</c>.</summary>
    public abstract string Peer { get; }

    /// <summary>The call's deadline in UTC; <see cref="DateTime.MaxValue"/> when there is none.</summary>
    public abstract DateTime Deadline { get; }

    /// <summary>The client's request metadata.</summary>
    public abstract Metadata RequestHeaders { get; }

    /// <summary>Fires when the client cancels, the deadline passes, the connection drops, or (streaming calls) the server shuts down.</summary>
    public abstract CancellationToken CancellationToken { get; }

    /// <summary>Trailing metadata to send with the status.</summary>
    public abstract Metadata ResponseTrailers { get; }

    /// <summary>The status to end the call with when the method returns normally.</summary>
    public abstract Status Status { get; set; }

    /// <summary>Options for the response stream's writes.</summary>
    public abstract WriteOptions? WriteOptions { get; set; }

    /// <summary>State that interceptors hand to methods (e.g. the authenticated caller).</summary>
    public abstract IDictionary<object, object?> UserState { get; }

    /// <summary>Sends the response headers now; may be called once, before the first message.</summary>
    public abstract Task WriteResponseHeadersAsync(Metadata responseHeaders);

    /// <summary>The HTTP context under the call (connection info, client certificate, features).</summary>
    public abstract HttpContext GetHttpContext();
}
