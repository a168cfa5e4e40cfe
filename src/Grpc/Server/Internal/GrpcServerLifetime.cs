using Microsoft.Extensions.Hosting;

namespace Relay.Grpc.Server.Internal;

/// <summary>
/// Tells streaming calls that the server is stopping, so they end with UNAVAILABLE trailers of their
/// own before Kestrel's shutdown timeout resets the connection under them.
/// </summary>
internal sealed class GrpcServerLifetime
{
    public GrpcServerLifetime(IHostApplicationLifetime? lifetime)
    {
        Stopping = lifetime?.ApplicationStopping ?? CancellationToken.None;
    }

    public CancellationToken Stopping { get; }
}
