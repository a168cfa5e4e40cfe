using System.Runtime.InteropServices;
using System.Text;

namespace Relay.Agent.Hosting;

/// <summary>The few libc calls .NET has no API for: the effective uid and a file's owner and type.</summary>
internal static class UnixNative
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;
    private const uint StatxMode = 0x2;
    private const uint StatxUid = 0x8;
    private const int SocketType = 0xC000;
    private const int TypeMask = 0xF000;

    /// <summary>The effective uid of this process.</summary>
    public static uint EffectiveUserId() => geteuid();

    /// <summary>The owner uid and whether <paramref name="path"/> is a socket (symlinks not followed); null when it does not exist.</summary>
    /// <exception cref="IOException">stat failed for another reason.</exception>
    public static (uint OwnerUid, bool IsSocket)? Stat(string path)
    {
        // struct statx has one layout on every architecture (that is why it exists): uid at 20, mode at 28.
        var buffer = new byte[256];
        var pathBytes = Encoding.UTF8.GetBytes(path + "\0");
        if (statx(AtFdCwd, pathBytes, AtSymlinkNoFollow, StatxType | StatxMode | StatxUid, buffer) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno == 2 /* ENOENT */ ? null : throw new IOException("stat " + path + " failed: " + Marshal.GetPInvokeErrorMessage(errno));
        }

        var uid = BitConverter.ToUInt32(buffer, 20);
        var mode = BitConverter.ToUInt16(buffer, 28);
        return (uid, (mode & TypeMask) == SocketType);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern uint geteuid();

    [DllImport("libc", SetLastError = true)]
    private static extern int statx(int dirfd, byte[] pathname, int flags, uint mask, [Out] byte[] statxbuf);
}
