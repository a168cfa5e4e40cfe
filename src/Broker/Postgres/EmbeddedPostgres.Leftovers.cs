using System.Globalization;

namespace Relay.Broker.Postgres;

internal sealed partial class EmbeddedPostgres
{
    private static readonly TimeSpan LeftoverPollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Deals with a <c>postmaster.pid</c> left by an earlier run. A server still running on this cluster (the broker
    /// died, PostgreSQL did not) is stopped so it restarts with this run's settings. A pid file whose server is gone
    /// (crash, kill -9, reboot) is removed once no process of that server is left: PostgreSQL removes such files
    /// itself only when the recorded pid is free, and after a reboot or in a container the pid is often reused.
    /// </summary>
    private async Task ClearLeftoverServerAsync(CancellationToken cancellationToken)
    {
        var pidFile = Path.Combine(DataPath, "postmaster.pid");
        string content;
        try
        {
            content = await File.ReadAllTextAsync(pidFile, cancellationToken);
        }
        catch (FileNotFoundException)
        {
            return;
        }

        var pid = ParsePid(content);
        if (pid is not null && ServesThisCluster(pid.Value, content))
        {
            LogLeftoverServer(DataPath, pid.Value);
            await StopServerAsync(cancellationToken);
            if (!File.Exists(pidFile))
            {
                return;
            }

            // It died while being stopped (it may have been dying already): what is left is stale.
        }

        while (FindProcessesOfThisCluster(content) is { Count: > 0 } survivors)
        {
            // Backends of a killed postmaster notice its death and exit within moments; StartTimeout bounds this.
            var pids = string.Join(", ", survivors);
            LogWaitingForOldProcesses(pids);
            await Task.Delay(LeftoverPollInterval, _timeProvider, cancellationToken);
        }

        File.Delete(pidFile);
        foreach (var name in new[] { SocketFileName, SocketFileName + ".lock" })
        {
            File.Delete(Path.Combine(SocketDirectory, name));
        }

        LogRemovedStalePidFile(DataPath, pid ?? 0);
    }

    /// <summary>True while the server recorded in postmaster.pid is alive and serving this cluster.</summary>
    private bool ServerIsRunning()
    {
        try
        {
            var content = File.ReadAllText(Path.Combine(DataPath, "postmaster.pid"));
            return ParsePid(content) is { } pid && ServesThisCluster(pid, content);
        }
        catch (FileNotFoundException)
        {
            return false;
        }
    }

    internal static int? ParsePid(string pidFileContent)
    {
        var firstLine = pidFileContent.Split('\n', 2)[0].Trim();
        return int.TryParse(firstLine, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 0 ? pid : null;
    }

    /// <summary>
    /// True when <paramref name="pid"/> is a live (not zombie) process whose working directory holds this very pid file.
    /// PostgreSQL processes run with PGDATA as their working directory, so this tells our server from an unrelated
    /// process, or another cluster's server, that happens to have the recorded pid.
    /// </summary>
    private static bool ServesThisCluster(int pid, string pidFileContent)
    {
        if (!IsLivePostgresProcess(pid))
        {
            return false;
        }

        try
        {
            var theirs = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cwd/postmaster.pid");
            return string.Equals(theirs, pidFileContent, StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static List<int> FindProcessesOfThisCluster(string pidFileContent)
    {
        var found = new List<int>();
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && pid != Environment.ProcessId
                && ServesThisCluster(pid, pidFileContent))
            {
                found.Add(pid);
            }
        }

        return found;
    }

    private static bool IsLivePostgresProcess(int pid)
    {
        try
        {
            var proc = $"/proc/{pid.ToString(CultureInfo.InvariantCulture)}";
            var comm = File.ReadAllText(proc + "/comm").Trim();
            if (comm is not ("postgres" or "postmaster"))
            {
                return false;
            }

            // /proc/<pid>/stat is "pid (comm) state ..."; a zombie (Z) or dead (X) process serves nothing.
            var stat = File.ReadAllText(proc + "/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..].TrimStart()[0];
            return state is not ('Z' or 'X');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return false;
        }
    }
}
