using System.Runtime.InteropServices;

namespace Relay.Bench.Hosting;

/// <summary>
/// Raises this process's soft limit of open files to its hard limit (RLIMIT_NOFILE): capacity-idle holds one socket
/// per stream here and one in the broker, which inherits the raised limit.
/// </summary>
internal static class FileLimit
{
    private const int RlimitNofile = 7;

    /// <summary>The soft limit after raising it, or null when it could not be read.</summary>
    public static ulong? RaiseToHard()
    {
        if (!OperatingSystem.IsLinux() || GetRLimit(RlimitNofile, out var limit) != 0)
        {
            return null;
        }

        if (limit.Current < limit.Maximum)
        {
            var raised = limit with { Current = limit.Maximum };
            if (SetRLimit(RlimitNofile, in raised) == 0)
            {
                return raised.Current;
            }
        }

        return limit.Current;
    }

    [DllImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int GetRLimit(int resource, out RLimit limit);

    [DllImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int SetRLimit(int resource, in RLimit limit);

    [StructLayout(LayoutKind.Sequential)]
    private readonly record struct RLimit(ulong Current, ulong Maximum);
}
