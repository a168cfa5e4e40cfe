using System.Buffers.Binary;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Relay.Agent.Hosting;

/// <summary>The process at the other end of a Unix socket connection, from SO_PEERCRED (as it was at connect time).</summary>
/// <param name="Pid">Its process id.</param>
/// <param name="Uid">Its effective uid.</param>
/// <param name="Gid">Its effective gid.</param>
internal sealed record PeerCredentials(int Pid, uint Uid, uint Gid);

/// <summary>The peer of a Unix socket connection; set on every connection the agent accepted there.</summary>
internal interface IPeerCredentialsFeature
{
    PeerCredentials Peer { get; }
}

/// <summary>
/// Checks the peer of every Unix socket connection before a byte of HTTP/2 is read: a process of another uid is
/// disconnected (and logged). The socket's 0600 mode and 0700 directory already keep other users out; this holds when
/// they are changed by mistake, and it hands the peer's pid to the services (<see cref="IPeerCredentialsFeature"/>).
/// </summary>
internal static partial class PeerCredentialCheck
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    /// <summary>Adds the check to a Unix socket endpoint.</summary>
    public static void UsePeerCredentialCheck(this ListenOptions listen, uint allowedUid, ILogger logger) =>
        listen.Use(next => async connection =>
        {
            var socket = connection.Features.Get<IConnectionSocketFeature>()?.Socket;
            var peer = socket is null ? null : Read(socket);
            if (peer is null)
            {
                Log.Unreadable(logger, connection.ConnectionId);
                connection.Abort(new ConnectionAbortedException("Peer credentials could not be read."));
                return;
            }

            if (peer.Uid != allowedUid)
            {
                Log.Refused(logger, connection.ConnectionId, peer.Pid, peer.Uid, allowedUid);
                connection.Abort(new ConnectionAbortedException("Peer uid " + peer.Uid + " is not allowed."));
                return;
            }

            connection.Features.Set<IPeerCredentialsFeature>(new Feature(peer));
            await next(connection);
        });

    /// <summary>SO_PEERCRED: struct ucred { pid_t pid; uid_t uid; gid_t gid; }, 12 bytes in host order.</summary>
    internal static PeerCredentials? Read(Socket socket)
    {
        Span<byte> ucred = stackalloc byte[12];
        try
        {
            if (socket.GetRawSocketOption(SolSocket, SoPeerCred, ucred) != 12)
            {
                return null;
            }
        }
        catch (SocketException)
        {
            return null;
        }

        return new PeerCredentials(
            BinaryPrimitives.ReadInt32LittleEndian(ucred),
            BinaryPrimitives.ReadUInt32LittleEndian(ucred[4..]),
            BinaryPrimitives.ReadUInt32LittleEndian(ucred[8..]));
    }

    private sealed class Feature(PeerCredentials peer) : IPeerCredentialsFeature
    {
        public PeerCredentials Peer { get; } = peer;
    }

    private static partial class Log
    {
        [LoggerMessage(40, LogLevel.Warning, "Refused Unix socket connection {ConnectionId} from pid {Pid} uid {Uid}: only uid {AllowedUid} may use this agent")]
        public static partial void Refused(ILogger logger, string connectionId, int pid, uint uid, uint allowedUid);

        [LoggerMessage(41, LogLevel.Error, "Refused Unix socket connection {ConnectionId}: its peer credentials could not be read")]
        public static partial void Unreadable(ILogger logger, string connectionId);
    }
}
