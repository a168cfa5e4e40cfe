using System.Globalization;

namespace Relay.Bench.Hosting;

/// <summary>CPU time and resident memory of processes, read from /proc (Linux).</summary>
internal static class ProcessStats
{
    // USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every Linux this runs on.
    private const double TicksPerSecond = 100;

    /// <summary>User + system CPU seconds of <paramref name="pid"/>; 0 when it is gone.</summary>
    public static double CpuSeconds(int pid)
    {
        var fields = StatFields(pid);
        return fields is null ? 0 : (Long(fields[11]) + Long(fields[12])) / TicksPerSecond;
    }

    /// <summary>CPU seconds of <paramref name="pid"/> and every process whose parent it is (PostgreSQL's backends).</summary>
    public static double CpuSecondsWithChildren(int pid)
    {
        var total = CpuSeconds(pid);
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var child)
                && StatFields(child) is { } fields && Long(fields[1]) == pid)
            {
                total += (Long(fields[11]) + Long(fields[12])) / TicksPerSecond;
            }
        }

        return total;
    }

    /// <summary>Resident set size of <paramref name="pid"/> in bytes (VmRSS); 0 when it is gone.</summary>
    public static long ResidentBytes(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return Long(line["VmRSS:".Length..].Trim().Split(' ')[0]) * 1024;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Gone.
        }

        return 0;
    }

    /// <summary>
    /// The fields of /proc/pid/stat after the command name (which may contain spaces): index 0 is the state, 1 the
    /// parent pid, 11 utime, 12 stime.
    /// </summary>
    private static string[]? StatFields(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            var close = text.LastIndexOf(')');
            return close < 0 ? null : text[(close + 2)..].Split(' ');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static long Long(string text) => long.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);
}
