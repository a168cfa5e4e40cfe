using System.Net.Sockets;

namespace Relay.Agent.Tests.Hooks.Client;

/// <summary>A Unix listener that stopped accepting: its backlog is full, so a blocking connect to it waits.</summary>
internal sealed class FullListener : IDisposable
{
    private readonly Socket _listener;
    private readonly List<Socket> _queued;

    private FullListener(Socket listener, List<Socket> queued) => (_listener, _queued) = (listener, queued);

    /// <summary>Listens at <paramref name="path"/> and connects without blocking until the backlog is full.</summary>
    public static FullListener Open(string path)
    {
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(0);
        var queued = new List<Socket>();
        for (var i = 0; i < 16; i++)
        {
            var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { Blocking = false };
            try
            {
                client.Connect(new UnixDomainSocketEndPoint(path));
                queued.Add(client);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.WouldBlock)
            {
                client.Dispose();
                return new FullListener(listener, queued);
            }
        }

        queued.ForEach(s => s.Dispose());
        listener.Dispose();
        throw new InvalidOperationException("The listen backlog never filled up.");
    }

    public void Dispose()
    {
        _queued.ForEach(s => s.Dispose());
        _listener.Dispose();
    }
}
