using System.Runtime.InteropServices;

namespace Relay.Agent.Hooks.Client;

/// <summary>
/// The few file operations the hook client needs, as bare libc calls (Linux): reading stdin and /proc, writing
/// stdout/stderr and one drop file. For <c>relay-agent hook</c> only, a process that lives for one call: the first use of
/// FileStream, File, Directory and Path in a process runs (and resolves) hundreds of framework methods, several
/// milliseconds of a start-up that is all this client costs (docs/agent.md, "Hook client start time").
/// </summary>
/// <remarks>
/// The imports are LibraryImport, not DllImport: their marshalling stubs are generated source that ReadyToRun
/// precompiles, where a DllImport with SetLastError makes the runtime JIT an IL stub per signature at the first call.
/// Interrupted calls (EINTR) are repeated.
/// </remarks>
internal static partial class UnixFile
{
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EBADF = 9;
    public const int EEXIST = 17;

    private const int ReadOnly = 0;
    private const int WriteOnly = 1;
    private const int Create = 0x40;
    private const int Truncate = 0x200;
    private const int CloseOnExec = 0x80000;

    /// <summary>Reads up to <paramref name="buffer"/>'s length from <paramref name="fd"/>; 0 at the end, -errno on failure.</summary>
    public static int Read(int fd, Span<byte> buffer)
    {
        while (true)
        {
            var read = LibcRead(fd, ref MemoryMarshal.GetReference(buffer), buffer.Length);
            if (read >= 0)
            {
                return (int)read;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno != EINTR)
            {
                return -errno;
            }
        }
    }

    /// <summary>Writes all of <paramref name="data"/> to <paramref name="fd"/>; 0, or the errno of the call that failed.</summary>
    public static int WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            var written = LibcWrite(fd, ref MemoryMarshal.GetReference(data), data.Length);
            if (written < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR)
                {
                    continue;
                }

                return errno;
            }

            data = data[(int)written..];
        }

        return 0;
    }

    /// <summary>Reads the start of a small file (such as /proc/&lt;pid&gt;/stat) into <paramref name="buffer"/>; the bytes read, -1 when it cannot be read.</summary>
    public static int ReadStart(string path, Span<byte> buffer)
    {
        var fd = LibcOpen(path, ReadOnly | CloseOnExec, 0);
        if (fd < 0)
        {
            return -1;
        }

        var total = 0;
        while (total < buffer.Length)
        {
            var read = Read(fd, buffer[total..]);
            if (read < 0)
            {
                total = -1;
                break;
            }

            if (read == 0)
            {
                break;
            }

            total += read;
        }

        _ = LibcClose(fd);
        return total;
    }

    /// <summary>Creates <paramref name="directory"/> and its missing parents with <paramref name="mode"/> (less the umask), as Directory.CreateDirectory does.</summary>
    /// <exception cref="IOException">A directory could not be created.</exception>
    public static void CreateDirectory(string directory, UnixFileMode mode)
    {
        if (LibcMkdir(directory, (int)mode) == 0)
        {
            return;
        }

        var errno = Marshal.GetLastPInvokeError();
        if (errno == EEXIST)
        {
            return;
        }

        var parentEnd = directory.TrimEnd('/').LastIndexOf('/');
        if (errno == ENOENT && parentEnd > 0)
        {
            // A parent is missing.
            CreateDirectory(directory[..parentEnd], mode);
            if (LibcMkdir(directory, (int)mode) == 0 || Marshal.GetLastPInvokeError() == EEXIST)
            {
                return;
            }

            errno = Marshal.GetLastPInvokeError();
        }

        throw Failure("could not create the directory " + directory, errno);
    }

    /// <summary>
    /// Writes <paramref name="data"/> to a new file <paramref name="temporary"/> (<paramref name="mode"/>, replacing one
    /// that exists), flushes it to the disk and renames it to <paramref name="final"/>, so that it appears whole.
    /// </summary>
    /// <exception cref="IOException">A step failed; the temporary file may be left behind.</exception>
    public static void WriteDurably(string temporary, string final, ReadOnlySpan<byte> data, UnixFileMode mode)
    {
        var fd = LibcOpen(temporary, WriteOnly | Create | Truncate | CloseOnExec, (int)mode);
        if (fd < 0)
        {
            throw Failure("could not create " + temporary, Marshal.GetLastPInvokeError());
        }

        var errno = WriteAll(fd, data);
        var step = "write";
        if (errno == 0 && LibcFsync(fd) != 0)
        {
            errno = Marshal.GetLastPInvokeError();
            step = "flush";
        }

        if (LibcClose(fd) != 0 && errno == 0 && Marshal.GetLastPInvokeError() is var closeErrno && closeErrno != EINTR)
        {
            errno = closeErrno;
            step = "close";
        }

        if (errno != 0)
        {
            throw Failure("could not " + step + " " + temporary, errno);
        }

        if (LibcRename(temporary, final) != 0)
        {
            throw Failure("could not rename " + temporary + " to " + final, Marshal.GetLastPInvokeError());
        }
    }

    private static IOException Failure(string what, int errno) => new(what + ": " + Marshal.GetPInvokeErrorMessage(errno));

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint LibcRead(int fd, ref byte buffer, nint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint LibcWrite(int fd, ref byte buffer, nint count);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LibcOpen(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int LibcClose(int fd);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int LibcFsync(int fd);

    [LibraryImport("libc", EntryPoint = "mkdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LibcMkdir(string path, int mode);

    [LibraryImport("libc", EntryPoint = "rename", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LibcRename(string from, string to);
}
