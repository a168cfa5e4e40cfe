using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Relay.Agent.Spool;

/// <summary>
/// fdatasync of a file. <see cref="FileStream.Flush(bool)"/> is an fsync, which also commits the inode's timestamps: on
/// ext4 that is a journal commit per append even when the data went into preallocated blocks.
/// </summary>
internal static partial class FileSync
{
    /// <summary>Flushes the file's data and the metadata needed to read it back (its size), not its timestamps.</summary>
    public static void FlushData(SafeFileHandle handle)
    {
        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            if (Fdatasync((int)handle.DangerousGetHandle()) != 0)
            {
                throw new IOException($"fdatasync failed (errno {Marshal.GetLastPInvokeError()}); the write is not known to be on disk.");
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    [DllImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static extern int Fdatasync(int fd);
}
