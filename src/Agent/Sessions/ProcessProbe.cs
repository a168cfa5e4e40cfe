using System.Globalization;

namespace Relay.Agent.Sessions;

/// <summary>What the agent can learn about a process from /proc.</summary>
/// <param name="Pid">The process id.</param>
/// <param name="StartTicks">Field 22 of /proc/&lt;pid&gt;/stat: start time in clock ticks after boot; with the pid it names one process.</param>
/// <param name="StartedAt">The same instant as wall-clock time.</param>
/// <param name="CommandLine">The process's arguments (empty when unreadable).</param>
internal sealed record ProcessInfo(int Pid, long StartTicks, DateTimeOffset StartedAt, IReadOnlyList<string> CommandLine);

/// <summary>Looks processes up; a seam so tests can make up processes, and the real one reads /proc.</summary>
internal interface IProcessProbe
{
    /// <summary>The process, or null when no process has this id.</summary>
    ProcessInfo? Probe(int pid);
}

/// <summary>Reads /proc. A pid is only ever compared together with its start ticks, so a reused pid is a new process.</summary>
internal sealed class ProcProcessProbe : IProcessProbe
{
    // USER_HZ: the unit of /proc's tick fields is fixed at 100 per second by the kernel ABI on every architecture
    // .NET runs on, whatever CONFIG_HZ the kernel was built with.
    private const int TicksPerSecond = 100;

    private readonly Lazy<DateTimeOffset> _bootTime = new(ReadBootTime);

    public ProcessInfo? Probe(int pid)
    {
        if (pid <= 0)
        {
            return null;
        }

        string stat;
        try
        {
            stat = File.ReadAllText("/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/stat");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        var ticks = ParseStartTicks(stat);
        if (ticks is null || IsZombie(stat))
        {
            return null;
        }

        return new ProcessInfo(pid, ticks.Value, _bootTime.Value + TimeSpan.FromSeconds(ticks.Value / (double)TicksPerSecond), ReadCommandLine(pid));
    }

    /// <summary>Field 22 (starttime). The command name (field 2) is in parentheses and may hold spaces and parentheses.</summary>
    internal static long? ParseStartTicks(string stat)
    {
        var close = stat.LastIndexOf(')');
        if (close < 0)
        {
            return null;
        }

        // After ") " come fields 3, 4, ...; field 22 is the 20th of them.
        var fields = stat[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields.Length > 19 && long.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks) ? ticks : null;
    }

    // A zombie has exited; only its parent has not reaped it yet.
    private static bool IsZombie(string stat)
    {
        var close = stat.LastIndexOf(')');
        return close + 2 < stat.Length && stat[close + 2] is 'Z' or 'X';
    }

    private static string[] ReadCommandLine(int pid)
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

    private static DateTimeOffset ReadBootTime()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/stat"))
            {
                if (line.StartsWith("btime ", StringComparison.Ordinal)
                    && long.TryParse(line.AsSpan(6).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
                {
                    return DateTimeOffset.FromUnixTimeSeconds(seconds);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }

        return DateTimeOffset.UnixEpoch;
    }
}
