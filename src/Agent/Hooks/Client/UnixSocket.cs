using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Relay.Agent.Hooks.Client;

/// <summary>A libc call on the socket failed; <see cref="Errno"/> says why (EAGAIN: a send or connect timed out).</summary>
internal sealed class UnixSocketException(int errno, string message) : IOException(message)
{
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int EISCONN = 106;

    public int Errno { get; } = errno;

    /// <summary>True when SO_SNDTIMEO ran out (a full socket buffer, or a listener whose backlog is full).</summary>
    public bool IsTimeout => Errno == EAGAIN;
}

/// <summary>
/// A blocking Unix stream socket on bare libc calls (Linux). For the hook client only: System.Net.Sockets' first socket
/// in a process costs about 15 ms of CPU (its telemetry EventSource, the epoll engine and its thread), which is most of
/// what the client may spend; these six calls cost well under one.
/// </summary>
/// <remarks>
/// Sends and the connect are bounded by SO_SNDTIMEO (a full listen backlog makes a blocking connect on a Unix socket
/// wait for exactly that long); reads by poll(2) with the remaining time, so <see cref="WaitReadable"/> never blocks
/// past its timeout. Interrupted calls (EINTR) are repeated, the connect with what is left of its timeout. Send uses
/// MSG_NOSIGNAL: a peer that closed gives EPIPE, not SIGPIPE.
/// </remarks>
internal sealed partial class UnixSocket : IDisposable
{
    private const int AfUnix = 1;
    private const int SockStream = 1;
    private const int SockCloexec = 0x80000;
    private const int SolSocket = 1;
    private const int SoSndTimeo = 21; // x86_64, arm and arm64 (asm-generic)
    private const int MsgNoSignal = 0x4000;
    private const short PollIn = 0x1;
    private const int MaxPathBytes = 107; // sun_path is 108 bytes with its terminating NUL

    private int _fd;

    private UnixSocket(int fd) => _fd = fd;

    /// <summary>
    /// Connects to the socket at <paramref name="path"/>, waiting at most <paramref name="timeout"/> for a busy listener;
    /// null when it cannot, with <paramref name="failure"/> saying why (ENOENT: no such socket, ECONNREFUSED: nobody
    /// listening, EAGAIN: the timeout).
    /// </summary>
    /// <remarks>
    /// A failure is returned, not thrown: "no agent" is the hook client's ordinary fail-open path, and a process's first
    /// exception costs it milliseconds of start-up (docs/agent.md, "Hook client start time").
    /// </remarks>
    public static UnixSocket? TryConnect(string path, TimeSpan timeout, out UnixSocketException? failure)
    {
        var address = new byte[2 + MaxPathBytes + 1];
        BitConverter.TryWriteBytes(address, (ushort)AfUnix);
        if (Encoding.UTF8.GetByteCount(path) > MaxPathBytes)
        {
            failure = new UnixSocketException(0, "the socket path is longer than " + MaxPathBytes + " bytes: " + path);
            return null;
        }

        Encoding.UTF8.GetBytes(path, address.AsSpan(2));
        var fd = socket(AfUnix, SockStream | SockCloexec, 0);
        if (fd < 0)
        {
            failure = Failure("socket");
            return null;
        }

        var connected = new UnixSocket(fd);
        var deadline = Environment.TickCount64 + (long)Math.Ceiling(timeout.TotalMilliseconds);
        failure = connected.TrySetSendTimeout(timeout) ? null : Failure("setsockopt SO_SNDTIMEO");
        while (failure is null && connect(fd, address, address.Length) != 0)
        {
            // A connect with SO_SNDTIMEO set is never restarted after a signal handler ran, whatever SA_RESTART says
            // (signal(7)); a Unix socket's interrupted connect did not connect, so it is asked again for what is left.
            var errno = Marshal.GetLastPInvokeError();
            if (errno == UnixSocketException.EISCONN)
            {
                break;
            }

            var left = deadline - Environment.TickCount64;
            failure = errno != UnixSocketException.EINTR ? Failure("connect to " + path)
                : left <= 0 ? new UnixSocketException(UnixSocketException.EAGAIN, "connect to " + path + ": timed out")
                : connected.TrySetSendTimeout(TimeSpan.FromMilliseconds(left)) ? null
                : Failure("setsockopt SO_SNDTIMEO");
        }

        if (failure is null)
        {
            return connected;
        }

        connected.Dispose();
        return null;
    }

    /// <summary>Sends all of <paramref name="data"/>, waiting at most <paramref name="timeout"/> for each part to be taken.</summary>
    /// <exception cref="UnixSocketException">EPIPE or ECONNRESET when the peer is gone, EAGAIN on timeout.</exception>
    public void Send(ReadOnlySpan<byte> data, TimeSpan timeout)
    {
        SetSendTimeout(timeout);
        while (!data.IsEmpty)
        {
            var sent = send(_fd, ref MemoryMarshal.GetReference(data), data.Length, MsgNoSignal);
            if (sent < 0)
            {
                if (Marshal.GetLastPInvokeError() == UnixSocketException.EINTR)
                {
                    continue;
                }

                throw Failure("send");
            }

            data = data[(int)sent..];
        }
    }

    /// <summary>Waits until there is something to read (data, end of stream or an error); false when <paramref name="timeout"/> passes first.</summary>
    public bool WaitReadable(TimeSpan timeout)
    {
        var ms = (int)Math.Ceiling(Math.Min(timeout.TotalMilliseconds, int.MaxValue));
        var fds = new PollFd { Fd = _fd, Events = PollIn };
        var ready = poll(ref fds, 1, ms);
        if (ready < 0)
        {
            // Interrupted: the caller asks again with what is left of its budget.
            return Marshal.GetLastPInvokeError() == UnixSocketException.EINTR ? false : throw Failure("poll");
        }

        return ready > 0;
    }

    /// <summary>Reads what is available into <paramref name="buffer"/>; 0 at the end of the stream.</summary>
    /// <exception cref="UnixSocketException">ECONNRESET and the like.</exception>
    public int Receive(Span<byte> buffer)
    {
        while (true)
        {
            var read = recv(_fd, ref MemoryMarshal.GetReference(buffer), buffer.Length, 0);
            if (read >= 0)
            {
                return (int)read;
            }

            if (Marshal.GetLastPInvokeError() != UnixSocketException.EINTR)
            {
                throw Failure("recv");
            }
        }
    }

    public void Dispose()
    {
        if (_fd >= 0)
        {
            _ = close(_fd);
            _fd = -1;
        }
    }

    private void SetSendTimeout(TimeSpan timeout)
    {
        if (!TrySetSendTimeout(timeout))
        {
            throw Failure("setsockopt SO_SNDTIMEO");
        }
    }

    private bool TrySetSendTimeout(TimeSpan timeout)
    {
        // A zero timeval means "no timeout": never ask for less than a millisecond.
        var microseconds = Math.Max(1000L, (long)Math.Min(timeout.TotalMicroseconds, int.MaxValue * 1000.0));
        var value = new TimeVal { Seconds = (nint)(microseconds / 1_000_000), Microseconds = (nint)(microseconds % 1_000_000) };
        return setsockopt(_fd, SolSocket, SoSndTimeo, ref value, Unsafe.SizeOf<TimeVal>()) == 0;
    }

    private static UnixSocketException Failure(string call)
    {
        var errno = Marshal.GetLastPInvokeError();
        return new UnixSocketException(errno, call + ": " + Marshal.GetPInvokeErrorMessage(errno));
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeVal
    {
        public nint Seconds;
        public nint Microseconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short ReturnedEvents;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int connect(int fd, byte[] address, int length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setsockopt(int fd, int level, int name, ref TimeVal value, int length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint send(int fd, ref byte buffer, nint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint recv(int fd, ref byte buffer, nint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int poll(ref PollFd fds, nuint count, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
