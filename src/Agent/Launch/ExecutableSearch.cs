namespace Relay.Agent.Launch;

/// <summary>Finds programs the way a shell would: an absolute or relative path as given, a bare name on PATH.</summary>
internal static class ExecutableSearch
{
    /// <summary>The absolute path of <paramref name="command"/>, or null when there is no such executable file.</summary>
    /// <param name="command">A name (looked up on <paramref name="path"/>) or a path (containing '/').</param>
    /// <param name="path">The PATH to search (colon-separated).</param>
    public static string? Find(string command, string? path)
    {
        if (string.IsNullOrEmpty(command))
        {
            return null;
        }

        if (command.Contains('/', StringComparison.Ordinal))
        {
            return IsExecutableFile(command) ? Path.GetFullPath(command) : null;
        }

        foreach (var directory in (path ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, command);
            if (IsExecutableFile(candidate))
            {
                return Path.GetFullPath(candidate);
            }
        }

        return null;
    }

    /// <summary>True when <paramref name="path"/> is a regular file (after symlinks) with an execute bit set.</summary>
    public static bool IsExecutableFile(string path)
    {
        try
        {
            if (!File.Exists(path))
            {
                return false;
            }

            const UnixFileMode anyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
            return (File.GetUnixFileMode(path) & anyExecute) != 0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
