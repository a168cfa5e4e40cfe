using Microsoft.Extensions.Hosting;

namespace Relay.Grpc.Server.Internal;

/// <summary>
/// Tells streaming calls that the server is stopping, so they end with UNAVAILABLE trailers of their
/// own before Kestrel's shutdown timeout resets the connection under them.
/// </summary>
internal sealed class GrpcServerLifetime : IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Action> _beforeStopping = [];
    private readonly Lock _lock = new();
    private readonly CancellationTokenRegistration _registration;

    public GrpcServerLifetime(IHostApplicationLifetime? lifetime)
    {
        if (lifetime is null)
        {
            Stopping = CancellationToken.None;
            return;
        }

        Stopping = _stopping.Token;
        _registration = lifetime.ApplicationStopping.UnsafeRegister(static s => ((GrpcServerLifetime)s!).OnStopping(), this);
    }

    /// <summary>Fires once the <see cref="BeforeStopping"/> actions have run.</summary>
    public CancellationToken Stopping { get; }

    /// <summary>
    /// Runs <paramref name="action"/> when the application starts stopping, before streaming calls are told to
    /// end. Health uses it to turn NOT_SERVING first, so watchers hear it before their stream closes.
    /// (The order of callbacks on ApplicationStopping itself is an implementation detail: newest first.)
    /// </summary>
    public void BeforeStopping(Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        lock (_lock)
        {
            _beforeStopping.Add(action);
        }
    }

    public void Dispose()
    {
        _registration.Dispose();
        _stopping.Dispose();
    }

    private void OnStopping()
    {
        Action[] actions;
        lock (_lock)
        {
            actions = [.. _beforeStopping];
        }

        try
        {
            foreach (var action in actions)
            {
                action();
            }
        }
        finally
        {
            _stopping.Cancel();
        }
    }
}
