using System.Net.Sockets;

namespace Relay.Agent.Tests.Hooks.Client;

/// <summary>A listener that stopped accepting: its backlog is full, so a blocking connect waits.</summary>
internal static class ListenBacklog
{
    /// <summary>Connects without blocking until the backlog of the listener at <paramref name="path"/> is full; the caller disposes them.</summary>
    public static List<Socket> Fill(string path)
    {
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
                return queued;
            }
        }

        throw new InvalidOperationException("The listen backlog never filled up.");
    }
}
