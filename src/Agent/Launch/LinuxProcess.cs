using System.Diagnostics;
using System.Globalization;

namespace Relay.Agent.Launch;

/// <summary>What /proc says about processes: command lines, parents, start times, liveness; and signals.</summary>
internal static class LinuxProcess
{
    /// <summary>The argv of <paramref name="pid"/>, or an empty list when it is gone or unreadable.</summary>
    public static IReadOnlyList<string> CommandLine(int pid)
    {
        try
        {
            var raw = File.ReadAllText("/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/cmdline");
            return raw.Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>True while <paramref name="pid"/> exists and is not a zombie.</summary>
    public static bool IsAlive(int pid) => Stat(pid) is { } stat && stat.State != 'Z' && stat.State != 'X';

    /// <summary>
    /// The start time of <paramref name="pid"/> in clock ticks since boot (stat field 22): with the pid it names one
    /// process for good, because pids are reused. Null when the process is gone.
    /// </summary>
    public static long? StartTicks(int pid) => Stat(pid)?.StartTicks;

    /// <summary>The direct children of <paramref name="pid"/>.</summary>
    public static IReadOnlyList<int> Children(int pid)
    {
        var children = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var candidate) &&
                Stat(candidate) is { } stat && stat.ParentPid == pid)
            {
                children.Add(candidate);
            }
        }

        return children;
    }

    /// <summary>Sends SIGTERM (<paramref name="kill"/> false) or SIGKILL; false when the process is already gone.</summary>
    public static bool Signal(int pid, bool kill)
    {
        if (!IsAlive(pid))
        {
            return false;
        }

        if (kill)
        {
            try
            {
                using var process = Process.GetProcessById(pid);
                process.Kill();
                return true;
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                return false;
            }
        }

        // .NET has no API for SIGTERM to another process; kill(1) is part of procps on every Linux.
        var start = new ProcessStartInfo("kill") { UseShellExecute = false, RedirectStandardError = true };
        start.ArgumentList.Add("-s");
        start.ArgumentList.Add("TERM");
        start.ArgumentList.Add(pid.ToString(CultureInfo.InvariantCulture));
        using var killer = Process.Start(start);
        killer?.WaitForExit(5000);
        return killer is { HasExited: true, ExitCode: 0 };
    }

    private static (char State, int ParentPid, long StartTicks)? Stat(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText("/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/stat");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        // The command name (field 2) is in parentheses and may itself contain spaces and ')'.
        var close = text.LastIndexOf(')');
        if (close < 0)
        {
            return null;
        }

        var fields = text[(close + 2)..].Split(' ');
        // fields[0] is field 3 (state), fields[1] field 4 (ppid), fields[19] field 22 (starttime).
        return fields.Length > 19 &&
               int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var parent) &&
               long.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out var started)
            ? (fields[0][0], parent, started)
            : null;
    }
}
