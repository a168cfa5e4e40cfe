using System.Globalization;

namespace Relay.Channel.Hosting;

/// <summary>The id of this process's parent, read fresh on every call.</summary>
internal interface IParentProcess
{
    /// <summary>The current parent process id; 0 when it cannot be read.</summary>
    int ParentId();
}

/// <summary>
/// Reads the parent pid from <c>/proc/self/stat</c> (Linux). When the parent dies, the kernel re-parents the process to
/// init or the nearest subreaper, so a changed value means Claude Code is gone.
/// </summary>
internal sealed class ProcParentProcess : IParentProcess
{
    public int ParentId()
    {
        try
        {
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so parse after the last ')'.
            var stat = File.ReadAllText("/proc/self/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ', 3);
            return int.Parse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return 0;
        }
    }
}
