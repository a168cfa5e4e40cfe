using System.Runtime.InteropServices;

namespace Relay.Agent.Hooks.Client;

/// <summary>
/// An unbuffered stream on one of this process's standard descriptors (0–2), on bare read(2) and write(2)
/// (<see cref="UnixFile"/>): the hook client's stdin, stdout and stderr without FileStream's or Console's start-up cost.
/// A descriptor that is not open (a parent that closed it) reads as empty and swallows writes, as Console's streams do.
/// </summary>
internal sealed class DescriptorStream(int fd, bool writable) : Stream
{
    public override bool CanRead => !writable;

    public override bool CanSeek => false;

    public override bool CanWrite => writable;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(Span<byte> buffer)
    {
        var read = UnixFile.Read(fd, buffer);
        return read >= 0 ? read
            : read == -UnixFile.EBADF ? 0
            : throw new IOException("read(" + fd + "): " + Marshal.GetPInvokeErrorMessage(-read));
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        var errno = UnixFile.WriteAll(fd, buffer);
        if (errno != 0 && errno != UnixFile.EBADF)
        {
            throw new IOException("write(" + fd + "): " + Marshal.GetPInvokeErrorMessage(errno));
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Flush()
    {
        // Unbuffered: every Write has reached the descriptor.
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
